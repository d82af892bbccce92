"""Two small RSS feeds in the LessWrong / Alignment Forum format, written for kb's demo.

Every post in them is fictional and original to this project (kb's own writing); the ids are
made up.  `kb daily --demo` adds them as file:// sources so a digest appears even offline.
"""
