// PLACEHOLDER: tests for pad
