//! Every malformed-input case: a small bad file in a tempdir and the exact complaint it earns,
//! one row each of [`CASES`]; and the odd layouts the readers accept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use snnc_datasets::{
    DataError, DatasetName, Split, load, read_cifar_bin, read_digits_csv, read_idx_images,
    read_idx_labels, read_idx_pair, read_nmnist_file, read_nmnist_list,
};
use tempfile::TempDir;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, bytes).unwrap();
    path
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn idx_images(count: u32, rows: u32, cols: u32, data_len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x803, count, rows, cols] {
        v.extend_from_slice(&u32::to_be_bytes(w));
    }
    v.extend((0..data_len).map(|i| i as u8));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x801, labels.len() as u32] {
        v.extend_from_slice(&u32::to_be_bytes(w));
    }
    v.extend_from_slice(labels);
    v
}

/// What reading a bad input gave, and the paths its error message must name.
type Outcome = (Result<(), DataError>, Vec<PathBuf>);

/// One malformed input and the complaint it earns.
struct Case {
    case: &'static str,
    /// Writes the bad input under the folder and reads it; returns the outcome and the paths the
    /// error message must name.
    read: fn(&Path) -> Outcome,
    /// Whether the error is the expected variant (with the fields the case pins).
    is_expected: fn(&DataError) -> bool,
    /// Fragments the message must contain.
    says: &'static [&'static str],
}

/// For cases that pin the message only.
fn any_variant(_: &DataError) -> bool {
    true
}

fn digits_row(values: &[&str]) -> String {
    values.join(",") + "\n"
}

const CASES: &[Case] = &[
    // ---- missing files ----
    Case {
        case: "missing MNIST file names the file and the fix",
        read: |dir| {
            let r = load(DatasetName::Mnist, dir, Split::Train).map(drop);
            (r, vec![dir.join("train-images-idx3-ubyte.gz")])
        },
        is_expected: |e| matches!(e, DataError::MissingFile { .. }),
        says: &[
            "not found",
            "point --data-dir at the folder holding",
            "t10k-labels-idx1-ubyte.gz",
        ],
    },
    Case {
        case: "missing data folder",
        read: |dir| {
            let dir = dir.join("nope");
            (
                load(DatasetName::Digits, &dir, Split::Test).map(drop),
                vec![dir],
            )
        },
        is_expected: any_variant,
        says: &["data folder does not exist", "digits.csv.gz"],
    },
    Case {
        case: "relative data folder is reported as a full path",
        read: |_| {
            let r = load(
                DatasetName::Mnist,
                Path::new("no-such-folder"),
                Split::Train,
            );
            let full = std::env::current_dir().unwrap().join("no-such-folder");
            (r.map(drop), vec![full])
        },
        is_expected: any_variant,
        says: &["data folder does not exist"],
    },
    Case {
        case: "missing CIFAR batches name the pattern",
        read: |dir| {
            let r = load(DatasetName::Cifar10, dir, Split::Test).map(drop);
            (r, vec![dir.join("test_batch*.bin")])
        },
        is_expected: |e| matches!(e, DataError::MissingFile { .. }),
        says: &["not found", "point --data-dir"],
    },
    Case {
        case: "missing N-MNIST event file names the list line",
        read: |dir| {
            let list = write(dir, "train1K.txt", b"#sample #class\r\n1\t5\r\n");
            let r = load(DatasetName::Nmnist, dir, Split::Train).map(drop);
            // The message names the list at its line: `<list> line 2`.
            let at_line = PathBuf::from(format!("{} line 2", list.display()));
            (r, vec![dir.join("1.bs2"), at_line])
        },
        is_expected: any_variant,
        says: &["not found"],
    },
    Case {
        case: "missing N-MNIST layout names both layouts",
        read: |dir| {
            let r = load(DatasetName::Nmnist, dir, Split::Test).map(drop);
            (r, vec![dir.join("test*.txt")])
        },
        is_expected: any_variant,
        says: &["not found", "Test/<digit>/<id>.bin"],
    },
    Case {
        case: "ambiguous N-MNIST lists",
        read: |dir| {
            write(dir, "test100.txt", b"");
            write(dir, "test200.txt", b"");
            let r = load(DatasetName::Nmnist, dir, Split::Test).map(drop);
            (r, vec![dir.join("test200.txt")])
        },
        is_expected: any_variant,
        says: &["test*.txt is ambiguous", "2 files match"],
    },
    // ---- IDX ----
    Case {
        case: "IDX bad magic (a label file where an image file belongs)",
        read: |dir| {
            let path = write(
                dir,
                "train-images-idx3-ubyte",
                &idx_labels(&[1, 2, 3, 4, 5, 6, 7, 8]),
            );
            (read_idx_images(&path).map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::BadMagic {
                    expected: 0x803,
                    found: 0x801,
                    ..
                }
            )
        },
        says: &[
            "bad magic number",
            "expected 0x00000803",
            "found 0x00000801",
        ],
    },
    Case {
        case: "IDX truncated data",
        read: |dir| {
            let path = write(dir, "imgs.gz", &gz(&idx_images(3, 2, 2, 10)));
            (read_idx_images(&path).map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::Truncated {
                    expected: 28,
                    found: 26,
                    ..
                }
            )
        },
        says: &["truncated", "expected 28 bytes, found 26"],
    },
    Case {
        case: "IDX truncated header",
        read: |dir| {
            let path = write(dir, "labels", &[0, 0, 8, 1, 0]);
            (read_idx_labels(&path).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &["truncated", "expected 8 bytes, found 5"],
    },
    Case {
        case: "IDX trailing garbage",
        read: |dir| {
            let bytes = [idx_labels(&[1, 2, 3]), b"junk".to_vec()].concat();
            let path = write(dir, "labels", &bytes);
            (read_idx_labels(&path).map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::TrailingData {
                    expected: 11,
                    found: 15,
                    ..
                }
            )
        },
        says: &["trailing garbage", "expected 11 bytes, found 15 (4 extra)"],
    },
    Case {
        case: "IDX count mismatch names both files",
        read: |dir| {
            let images = write(dir, "images", &idx_images(3, 2, 2, 12));
            let labels = write(dir, "labels", &idx_labels(&[1, 2]));
            let r = read_idx_pair(DatasetName::Mnist, Split::Train, &images, &labels);
            (r.map(drop), vec![images, labels])
        },
        is_expected: any_variant,
        says: &["count mismatch", "holds 3 images", "holds 2 labels"],
    },
    Case {
        case: "IDX label out of range",
        read: |dir| {
            let images = write(dir, "images", &idx_images(3, 1, 1, 3));
            let labels = write(dir, "labels", &idx_labels(&[1, 2, 10]));
            let r = read_idx_pair(DatasetName::Mnist, Split::Train, &images, &labels);
            (r.map(drop), vec![labels])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::LabelOutOfRange {
                    index: 2,
                    label: 10,
                    classes: 10,
                    ..
                }
            )
        },
        says: &[
            "label out of range",
            "sample 2 has label 10",
            "only 10 classes",
        ],
    },
    Case {
        case: "corrupt gzip is a decompression error",
        read: |dir| {
            let mut bytes = gz(&idx_labels(&[1; 100]));
            bytes.truncate(bytes.len() - 12); // cut the deflate stream and the trailer
            let path = write(dir, "t10k-labels-idx1-ubyte.gz", &bytes);
            (read_idx_labels(&path).map(drop), vec![path])
        },
        is_expected: |e| matches!(e, DataError::Decompress { .. }),
        says: &["corrupt gzip data", "fetch the file again"],
    },
    Case {
        case: "an I/O error names the path",
        read: |dir| {
            // A folder where a file belongs: the read fails with an error other than "not found".
            let path = dir.join("labels");
            fs::create_dir(&path).unwrap();
            (read_idx_labels(&path).map(drop), vec![path])
        },
        is_expected: |e| matches!(e, DataError::Io { .. }),
        says: &["cannot read"],
    },
    // ---- CIFAR-10 ----
    Case {
        case: "CIFAR wrong record size",
        read: |dir| {
            let path = write(dir, "data_batch_1.bin", &vec![0u8; 3073 * 2 + 5]);
            let r = read_cifar_bin(std::slice::from_ref(&path), Split::Train);
            (r.map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::RecordSize {
                    size: 6151,
                    record: 3073,
                    ..
                }
            )
        },
        says: &[
            "wrong size",
            "6151 bytes is not a multiple of the 3073-byte record size",
        ],
    },
    Case {
        case: "CIFAR label out of range gives the record index",
        read: |dir| {
            let mut bytes = vec![0u8; 3073 * 3];
            bytes[3073 * 2] = 11;
            write(
                dir,
                "test_batch.a.bin",
                &[vec![1u8], vec![7u8; 3072]].concat(),
            );
            let bad = write(dir, "test_batch.b.bin", &bytes);
            (
                load(DatasetName::Cifar10, dir, Split::Test).map(drop),
                vec![bad],
            )
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::LabelOutOfRange {
                    index: 2,
                    label: 11,
                    ..
                }
            )
        },
        says: &["label out of range", "sample 2 has label 11"],
    },
    // ---- N-MNIST ----
    Case {
        case: "N-MNIST wrong record size",
        read: |dir| {
            let path = write(dir, "1.bs2", &[0u8; 12]);
            (read_nmnist_file(&path).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &[
            "wrong size",
            "12 bytes is not a multiple of the 5-byte record size",
        ],
    },
    Case {
        case: "N-MNIST event out of range gives the event index",
        read: |dir| {
            let path = write(dir, "7.bs2", &[1, 2, 0x80, 0, 5, 3, 34, 0, 0, 9]);
            (read_nmnist_file(&path).map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::EventOutOfRange {
                    index: 1,
                    x: 3,
                    y: 34,
                    ..
                }
            )
        },
        says: &["event 1 out of range", "(x=3, y=34)", "34x34 sensor"],
    },
    Case {
        case: "N-MNIST list parse error gives the line",
        read: |dir| {
            let path = write(dir, "train1K.txt", b"#sample #class\n1\t5\n2 three\n");
            (read_nmnist_list(&path).map(drop), vec![path])
        },
        is_expected: |e| matches!(e, DataError::Parse { line: 3, .. }),
        says: &["line 3", "class 'three' is not a whole number"],
    },
    Case {
        case: "N-MNIST list with a wrong field count gives the line",
        read: |dir| {
            let path = write(dir, "test100.txt", b"#sample #class\n\n60001\t7\t1\n");
            (read_nmnist_list(&path).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &["line 3", "found 3 fields"],
    },
    Case {
        case: "N-MNIST list class out of range gives the line",
        read: |dir| {
            let path = write(dir, "test100.txt", b"60001\t12\n");
            (read_nmnist_list(&path).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &["line 1", "class 12 is out of range 0..=9"],
    },
    // ---- digits ----
    Case {
        case: "digits malformed row gives the line",
        read: |dir| {
            let good = digits_row(&[&["0"; 64][..], &["3"]].concat());
            let short = digits_row(&["1"; 10]);
            let path = write(dir, "digits.csv.gz", &gz((good + &short).as_bytes()));
            (read_digits_csv(&path, 0).map(drop), vec![path])
        },
        is_expected: |e| matches!(e, DataError::Parse { line: 2, .. }),
        says: &["line 2", "expected 65 comma-separated numbers", "found 10"],
    },
    Case {
        case: "digits non-number gives the line and column",
        read: |dir| {
            let mut fields = vec!["0"; 65];
            fields[4] = "x";
            let path = write(dir, "digits.csv", digits_row(&fields).as_bytes());
            (read_digits_csv(&path, 0).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &["line 1", "column 5: 'x' is not a whole number"],
    },
    Case {
        case: "digits value out of range",
        read: |dir| {
            let mut fields = vec!["1"; 65];
            fields[10] = "17";
            let text = digits_row(&["0"; 65]) + &digits_row(&fields);
            let path = write(dir, "digits.csv.gz", &gz(text.as_bytes()));
            (read_digits_csv(&path, 0).map(drop), vec![path])
        },
        is_expected: |e| {
            matches!(
                e,
                DataError::ValueOutOfRange {
                    line: 2,
                    column: 11,
                    max: 16,
                    ..
                }
            )
        },
        says: &[
            "line 2",
            "value out of range",
            "column 11 is 17, allowed 0..=16",
        ],
    },
    Case {
        case: "digits class out of range",
        read: |dir| {
            let mut fields = vec!["0"; 65];
            fields[64] = "10";
            let path = write(dir, "digits.csv", digits_row(&fields).as_bytes());
            (read_digits_csv(&path, 0).map(drop), vec![path])
        },
        is_expected: any_variant,
        says: &["column 65 is 10, allowed 0..=9"],
    },
];

/// What is wrong with `case`'s outcome, if anything.
fn problems(case: &Case) -> Vec<String> {
    let tmp = TempDir::new().unwrap();
    let (outcome, paths) = (case.read)(tmp.path());
    let err = match outcome {
        Ok(()) => return vec!["read succeeded".into()],
        Err(e) => e,
    };
    let msg = err.to_string();
    let mut wrong = Vec::new();
    if !(case.is_expected)(&err) {
        wrong.push(format!("unexpected variant {err:?}"));
    }
    for p in paths {
        if !msg.contains(&p.display().to_string()) {
            wrong.push(format!("message {msg:?} should name {}", p.display()));
        }
    }
    for f in case.says {
        if !msg.contains(f) {
            wrong.push(format!("message {msg:?} should contain {f:?}"));
        }
    }
    wrong
}

#[test]
fn every_malformed_input_earns_its_complaint() {
    let failures: Vec<String> = CASES
        .iter()
        .flat_map(|c| {
            problems(c)
                .into_iter()
                .map(move |p| format!("{}: {p}", c.case))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|c| c.case).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two cases share a name");
}

// ---- layouts the readers accept ----

#[test]
fn idx_uncompressed_names_are_accepted() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "t10k-images-idx3-ubyte",
        &idx_images(2, 2, 2, 8),
    );
    write(
        tmp.path(),
        "t10k-labels-idx1-ubyte.gz",
        &gz(&idx_labels(&[4, 9])),
    );
    let set = load(DatasetName::FashionMnist, tmp.path(), Split::Test)
        .unwrap()
        .into_images()
        .unwrap();
    assert_eq!((set.len(), set.height, set.width), (2, 2, 2));
    assert_eq!(set.labels, [4, 9]);
    assert_eq!(set.sample(1).unwrap(), &[4, 5, 6, 7]);
}

#[test]
fn cifar_batches_concatenate_in_name_order() {
    let tmp = TempDir::new().unwrap();
    let record = |label: u8| [vec![label], vec![label; 3072]].concat();
    write(
        tmp.path(),
        "data_batch_2.bin",
        &[record(2), record(3)].concat(),
    );
    write(tmp.path(), "data_batch_1.first1.bin", &record(1));
    write(tmp.path(), "test_batch.bin", &record(9));
    write(tmp.path(), "batches.meta.txt", b"airplane\n");
    let set = load(DatasetName::Cifar10, tmp.path(), Split::Train)
        .unwrap()
        .into_images()
        .unwrap();
    assert_eq!(set.labels, [1, 2, 3]);
    assert_eq!(set.shape(), [3, 32, 32]);
    assert_eq!(set.sample(2).unwrap()[3071], 3);
}

#[test]
fn nmnist_decodes_polarity_and_timestamp() {
    let tmp = TempDir::new().unwrap();
    let path = write(
        tmp.path(),
        "7.bs2",
        &[1, 2, 0x81, 0x02, 0x03, 33, 0, 0x7f, 0xff, 0xff],
    );
    let events = read_nmnist_file(&path).unwrap();
    assert_eq!(
        events[0],
        snnc_datasets::Event {
            x: 1,
            y: 2,
            on: true,
            t_us: 0x01_0203
        }
    );
    assert_eq!(
        events[1],
        snnc_datasets::Event {
            x: 33,
            y: 0,
            on: false,
            t_us: 0x7f_ffff
        }
    );
}

#[test]
fn nmnist_official_layout_loads_by_digit() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "Test/3/10.bin", &[1, 1, 0, 0, 1]);
    write(
        tmp.path(),
        "Test/3/9.bin",
        &[2, 2, 0x80, 0, 1, 3, 3, 0, 0, 2],
    );
    write(tmp.path(), "Test/0/5.bin", &[]);
    let set = load(DatasetName::Nmnist, tmp.path(), Split::Test)
        .unwrap()
        .into_events()
        .unwrap();
    assert_eq!(set.labels, [0, 3, 3]);
    assert_eq!(
        set.samples.iter().map(Vec::len).collect::<Vec<_>>(),
        [0, 2, 1]
    );
    assert_eq!((set.width, set.height), (34, 34));
}

// ---- names ----

#[test]
fn unknown_dataset_name_lists_valid_names() {
    let err = "svhn".parse::<DatasetName>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown dataset 'svhn'; valid names: mnist, fashion-mnist, cifar10, nmnist, digits"
    );
    let wrapped: DataError = err.into();
    assert!(wrapped.to_string().contains("valid names"));
}

#[test]
fn dataset_names_round_trip() {
    for name in DatasetName::ALL {
        assert_eq!(name.to_string().parse::<DatasetName>().unwrap(), name);
    }
    assert_eq!(
        "Fashion-MNIST".parse::<DatasetName>().unwrap(),
        DatasetName::FashionMnist
    );
    assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
    assert!(
        "val"
            .parse::<Split>()
            .unwrap_err()
            .to_string()
            .contains("train, test")
    );
}

// ---- arbitrary bytes ----

#[test]
fn random_bytes_never_panic_any_reader() {
    use snnc_datasets::decode_events;
    use snnc_datasets::transform::Rng;
    let tmp = TempDir::new().unwrap();
    let mut rng = Rng::new(99);
    for round in 0..300 {
        let len = rng.below(64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Sometimes start with a valid magic or gzip header so the deeper checks run too.
        match round % 4 {
            1 => bytes.splice(0..0, [0, 0, 8, 3]).for_each(drop),
            2 => bytes.splice(0..0, [0, 0, 8, 1]).for_each(drop),
            3 => bytes.splice(0..0, [0x1f, 0x8b, 8, 0]).for_each(drop),
            _ => {}
        }
        let path = write(tmp.path(), "blob", &bytes);
        let _ = read_idx_images(&path);
        let _ = read_idx_labels(&path);
        let _ = read_cifar_bin(std::slice::from_ref(&path), Split::Train);
        let _ = read_nmnist_file(&path);
        let _ = read_nmnist_list(&path);
        let _ = read_digits_csv(&path, round);
        let _ = decode_events(&path, &bytes);
    }
}
