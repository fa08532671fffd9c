"""The Discord front end: every registry command as a slash command (discord.py 2)."""
