// PLACEHOLDER: tests for softmax
