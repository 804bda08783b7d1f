//! Features for mtf: TA-Lib-exact indicators, the feature spec, normalisation and model input windows.
//!
//! - [`indicators`]: streaming cores (`update` per bar, O(1)) and [`indicators::batch`] folds over slices.
//! - [`frames`]: per-timeframe feature matrices from 1-minute (and daily) bars.
//! - [`spec`]: the per-timeframe feature set, its formulas and its stable identifier.
//! - [`normalize`]: statistics fit on a training slice, applied identically at inference, with clipping.
//! - [`window`]: `[B, T, K, F]` model inputs with a `[B, T, K]` mask, as of prediction instants.
//! - [`reference`]: equal-mass bins of the training inputs and the population stability index (drift).

pub mod frames;
pub mod indicators;
pub mod normalize;
pub mod reference;
pub mod spec;
pub mod window;
