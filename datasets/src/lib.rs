//! Dataset readers in plain Rust: MNIST/Fashion-MNIST IDX, CIFAR-10 binary, N-MNIST events, digits CSV.
