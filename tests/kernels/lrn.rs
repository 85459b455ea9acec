// PLACEHOLDER: tests for lrn
