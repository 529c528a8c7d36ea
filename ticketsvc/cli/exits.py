"""Exit statuses of every ``ticketsvc`` command (cron and scripts branch on them)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFLICT, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
# Stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
