// PLACEHOLDER: tests for concat
