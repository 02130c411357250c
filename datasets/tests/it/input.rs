//! The one dataset -> network input rule: every geometry a builder is given is one the feeder
//! accepts, the two documented transforms are applied and named, and every other mismatch is an
//! error.

use snnc_datasets::transform::FrameSplit;
use snnc_datasets::{
    AUTOSNN_SIDE, Dataset, DatasetName, EventSet, ImageSet, InputEncoding, InputMapping,
    InputMismatch, NMNIST_FRAME_SIDE, NetworkInput, SideRule, Split, input_mapping, network_input,
};

/// An empty set with `name`'s stored shape.
fn empty(name: DatasetName) -> Dataset {
    let [channels, height, width] = name.raw_shape();
    if name.is_events() {
        Dataset::Events(EventSet {
            split: Split::Test,
            width,
            height,
            samples: Vec::new(),
            labels: Vec::new(),
            num_classes: name.num_classes(),
        })
    } else {
        Dataset::Images(ImageSet {
            name,
            split: Split::Test,
            channels,
            height,
            width,
            pixels: Vec::new(),
            labels: Vec::new(),
            num_classes: name.num_classes(),
            max_value: 255.0,
        })
    }
}

fn fit(
    name: DatasetName,
    shape: &[usize],
    encoding: InputEncoding,
) -> Result<InputMapping, InputMismatch> {
    let input = NetworkInput {
        shape,
        encoding,
        timesteps: 4,
        num_classes: 10,
    };
    input_mapping(&empty(name), &input, FrameSplit::ByCount)
}

#[test]
fn every_built_geometry_is_one_the_feeder_accepts() {
    for name in DatasetName::ALL {
        for rule in [SideRule::Native, AUTOSNN_SIDE] {
            let g = network_input(name, rule);
            fit(name, &g.shape(), g.encoding)
                .unwrap_or_else(|e| panic!("{name} under {rule:?}: {e}"));
        }
    }
}

#[test]
fn nmnist_frames_are_32_for_every_architecture_and_the_crop_is_named() {
    for rule in [SideRule::Native, AUTOSNN_SIDE] {
        let g = network_input(DatasetName::Nmnist, rule);
        assert_eq!(g.shape(), [2, NMNIST_FRAME_SIDE, NMNIST_FRAME_SIDE]);
        assert_eq!(g.encoding, InputEncoding::EventFrames);
        let m = fit(DatasetName::Nmnist, &g.shape(), g.encoding).unwrap();
        assert_eq!(
            m.transform_note().as_deref(),
            Some("event frames are centre-cropped to 32x32")
        );
    }
}

#[test]
fn images_are_padded_never_cropped() {
    let padded = fit(DatasetName::Mnist, &[1, 32, 32], InputEncoding::Direct).unwrap();
    assert_eq!(
        padded.transform_note().as_deref(),
        Some("images are zero-padded to 32x32")
    );
    let native = fit(DatasetName::Mnist, &[1, 28, 28], InputEncoding::Direct).unwrap();
    assert_eq!(native.transform_note(), None);
    let flat = fit(DatasetName::Mnist, &[784], InputEncoding::Direct).unwrap();
    assert!(matches!(flat, InputMapping::Images { flatten: true, .. }));
    // Training used to centre-crop silently where the runtime refused: now both refuse.
    let err = fit(DatasetName::Cifar10, &[3, 28, 28], InputEncoding::Direct).unwrap_err();
    assert!(matches!(err, InputMismatch::ImageShape { .. }), "{err}");
    assert!(err.to_string().contains("S >= 32"), "{err}");
}

#[test]
fn other_mismatches_are_errors() {
    let err = fit(
        DatasetName::Nmnist,
        &[2, 40, 40],
        InputEncoding::EventFrames,
    )
    .unwrap_err();
    assert!(matches!(err, InputMismatch::EventShape { .. }), "{err}");
    let err = fit(DatasetName::Mnist, &[1, 28, 28], InputEncoding::EventFrames).unwrap_err();
    assert!(
        matches!(err, InputMismatch::ImagesIntoEventFrames { .. }),
        "{err}"
    );
    let err = fit(DatasetName::Nmnist, &[2, 32, 32], InputEncoding::Direct).unwrap_err();
    assert!(
        matches!(err, InputMismatch::EventsIntoDirect { .. }),
        "{err}"
    );
    let input = NetworkInput {
        shape: &[1, 28, 28],
        encoding: InputEncoding::Direct,
        timesteps: 4,
        num_classes: 2,
    };
    let err = input_mapping(&empty(DatasetName::Mnist), &input, FrameSplit::ByCount).unwrap_err();
    assert!(matches!(err, InputMismatch::TooManyClasses { .. }), "{err}");
}
