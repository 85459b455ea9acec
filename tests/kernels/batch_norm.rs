// PLACEHOLDER: tests for batch_norm
