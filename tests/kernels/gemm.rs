// PLACEHOLDER: tests for gemm
