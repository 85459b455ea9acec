// PLACEHOLDER: tests for pool
