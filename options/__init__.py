"""Command-line options: the reference's flags and defaults, validated at parse time."""
