// PLACEHOLDER: tests for resize
