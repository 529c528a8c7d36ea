"""Exit statuses of every ``python -m ticketsvc`` command (cron and scripts branch on them)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFLICT, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
