//! Everything on Candle: spiking layers, surrogate-gradient BPTT training, architecture search.
