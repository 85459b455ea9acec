// PLACEHOLDER: tests for transpose
