// PLACEHOLDER: tests for binary
