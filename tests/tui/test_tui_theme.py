"""The theme chosen in the TUI (palette or `t`) is saved in the config file and used next time;
`t` switches between the saved dark and light themes, so it never undoes a palette choice."""

from __future__ import annotations

from kb.config_edit import set_config_values
from kb.settings import load_settings, read_config_file
from tui.app import DARK, LIGHT

SIZE = (100, 30)


async def _pause(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()


async def test_palette_choice_is_saved_and_t_toggles_to_the_saved_light_theme(make_app, archive,
                                                                              settings):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        assert app.theme == DARK  # the default, nothing saved yet
        assert not settings.config_path.exists()  # starting saves nothing
        await pilot.press("ctrl+p")
        await _pause(pilot)
        await pilot.press(*"theme")  # the built-in "Theme" command opens the theme list
        await _pause(pilot, 5)
        await pilot.press("enter")
        await _pause(pilot, 5)
        await pilot.press(*"nord")
        await _pause(pilot, 5)
        await pilot.press("enter")
        await _pause(pilot, 5)
        assert app.theme == "nord"
        saved = read_config_file(settings.config_path)["tui"]
        assert saved["theme"] == "nord" and saved["dark_theme"] == "nord"
        app.set_focus(None)
        await pilot.press("t")
        await _pause(pilot)
        assert app.theme == LIGHT
        await pilot.press("t")
        await _pause(pilot)
        assert app.theme == "nord"  # back to the chosen dark theme, not textual-dark
    # a new session starts with the last theme, and toggles between the saved pair
    fresh = load_settings()
    assert (fresh.tui.theme, fresh.tui.dark_theme, fresh.tui.light_theme) == (
        "nord", "nord", LIGHT)


async def test_saved_themes_are_used_at_start_and_by_t(make_app, archive, settings):
    set_config_values(settings.config_path, "tui", {
        "theme": "gruvbox", "dark_theme": "gruvbox", "light_theme": "solarized-light"})
    settings.tui = load_settings().tui
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        assert app.theme == "gruvbox"
        await pilot.press("t")
        await _pause(pilot)
        assert app.theme == "solarized-light"
        await pilot.press("t")
        await _pause(pilot)
        assert app.theme == "gruvbox"
    assert load_settings().tui.theme == "gruvbox"


async def test_an_unknown_saved_theme_falls_back_with_a_warning(make_app, archive, settings):
    settings.tui.theme = "no-such-theme"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        assert app.theme == DARK
        assert any("no-such-theme" in str(n.message) for n in app._notifications)


def test_config_edit_keeps_comments_and_adds_the_section(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("# mine\n[llm]\nbackend = \"auto\"  # why\n", encoding="utf-8")
    set_config_values(path, "tui", {"theme": "nord"})
    set_config_values(path, "tui", {"theme": "dracula", "dark_theme": "dracula"})
    text = path.read_text(encoding="utf-8")
    assert "# mine" in text and "# why" in text
    assert read_config_file(path) == {"llm": {"backend": "auto"},
                                      "tui": {"theme": "dracula", "dark_theme": "dracula"}}
