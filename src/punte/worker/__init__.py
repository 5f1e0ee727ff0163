"""Background work: the job queue (outbox) and the worker that runs it."""
