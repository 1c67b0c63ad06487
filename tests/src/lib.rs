//! Cross-crate integration tests live in `tests/`: the backtest on generated data with known
//! answers and on the shared benchmark data.
