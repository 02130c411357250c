//! Every malformed-input case: a small bad file in a tempdir and the exact complaint it earns.

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

/// Asserts the message names `path` and contains every fragment.
fn assert_msg(err: &DataError, path: &Path, fragments: &[&str]) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message {msg:?} should name {}",
        path.display()
    );
    for f in fragments {
        assert!(msg.contains(f), "message {msg:?} should contain {f:?}");
    }
}

// ---- missing files ----

#[test]
fn missing_mnist_file_names_the_file_and_the_fix() {
    let tmp = TempDir::new().unwrap();
    let err = load(DatasetName::Mnist, tmp.path(), Split::Train).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }));
    let expected = tmp.path().join("train-images-idx3-ubyte.gz");
    assert_msg(
        &err,
        &expected,
        &[
            "not found",
            "point --data-dir at the folder holding",
            "t10k-labels-idx1-ubyte.gz",
        ],
    );
}

#[test]
fn missing_data_folder_is_reported() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("nope");
    let err = load(DatasetName::Digits, &dir, Split::Test).unwrap_err();
    assert_msg(&err, &dir, &["data folder does not exist", "digits.csv.gz"]);
}

#[test]
fn missing_cifar_batches_name_the_pattern() {
    let tmp = TempDir::new().unwrap();
    let err = load(DatasetName::Cifar10, tmp.path(), Split::Test).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }));
    assert_msg(
        &err,
        &tmp.path().join("test_batch*.bin"),
        &["not found", "point --data-dir"],
    );
}

#[test]
fn missing_nmnist_event_file_names_list_line() {
    let tmp = TempDir::new().unwrap();
    let list = write(tmp.path(), "train1K.txt", b"#sample #class\r\n1\t5\r\n");
    let err = load(DatasetName::Nmnist, tmp.path(), Split::Train).unwrap_err();
    assert_msg(
        &err,
        &tmp.path().join("1.bs2"),
        &["not found", &format!("{} line 2", list.display())],
    );
}

#[test]
fn missing_nmnist_layout_names_both_layouts() {
    let tmp = TempDir::new().unwrap();
    let err = load(DatasetName::Nmnist, tmp.path(), Split::Test).unwrap_err();
    assert_msg(
        &err,
        &tmp.path().join("test*.txt"),
        &["not found", "Test/<digit>/<id>.bin"],
    );
}

#[test]
fn ambiguous_nmnist_lists_are_rejected() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "test100.txt", b"");
    write(tmp.path(), "test200.txt", b"");
    let err = load(DatasetName::Nmnist, tmp.path(), Split::Test).unwrap_err();
    assert_msg(
        &err,
        &tmp.path().join("test200.txt"),
        &["test*.txt is ambiguous", "2 files match"],
    );
}

// ---- IDX ----

#[test]
fn idx_bad_magic() {
    let tmp = TempDir::new().unwrap();
    // A label file where an image file belongs.
    let path = write(
        tmp.path(),
        "train-images-idx3-ubyte",
        &idx_labels(&[1, 2, 3, 4, 5, 6, 7, 8]),
    );
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(
        err,
        DataError::BadMagic {
            expected: 0x803,
            found: 0x801,
            ..
        }
    ));
    assert_msg(
        &err,
        &path,
        &[
            "bad magic number",
            "expected 0x00000803",
            "found 0x00000801",
        ],
    );
}

#[test]
fn idx_truncated_data() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "imgs.gz", &gz(&idx_images(3, 2, 2, 10)));
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 28,
            found: 26,
            ..
        }
    ));
    assert_msg(&err, &path, &["truncated", "expected 28 bytes, found 26"]);
}

#[test]
fn idx_truncated_header() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "labels", &[0, 0, 8, 1, 0]);
    let err = read_idx_labels(&path).unwrap_err();
    assert_msg(&err, &path, &["truncated", "expected 8 bytes, found 5"]);
}

#[test]
fn idx_trailing_garbage() {
    let tmp = TempDir::new().unwrap();
    let mut bytes = idx_labels(&[1, 2, 3]);
    bytes.extend_from_slice(b"junk");
    let path = write(tmp.path(), "labels", &bytes);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(
        err,
        DataError::TrailingData {
            expected: 11,
            found: 15,
            ..
        }
    ));
    assert_msg(
        &err,
        &path,
        &["trailing garbage", "expected 11 bytes, found 15 (4 extra)"],
    );
}

#[test]
fn idx_count_mismatch_names_both_files() {
    let tmp = TempDir::new().unwrap();
    let images = write(tmp.path(), "images", &idx_images(3, 2, 2, 12));
    let labels = write(tmp.path(), "labels", &idx_labels(&[1, 2]));
    let err = read_idx_pair(DatasetName::Mnist, Split::Train, &images, &labels).unwrap_err();
    assert_msg(
        &err,
        &images,
        &["count mismatch", "holds 3 images", "holds 2 labels"],
    );
    assert_msg(&err, &labels, &[]);
}

#[test]
fn idx_label_out_of_range() {
    let tmp = TempDir::new().unwrap();
    let images = write(tmp.path(), "images", &idx_images(3, 1, 1, 3));
    let labels = write(tmp.path(), "labels", &idx_labels(&[1, 2, 10]));
    let err = read_idx_pair(DatasetName::Mnist, Split::Train, &images, &labels).unwrap_err();
    assert!(matches!(
        err,
        DataError::LabelOutOfRange {
            index: 2,
            label: 10,
            classes: 10,
            ..
        }
    ));
    assert_msg(
        &err,
        &labels,
        &[
            "label out of range",
            "sample 2 has label 10",
            "only 10 classes",
        ],
    );
}

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
fn corrupt_gzip_is_a_decompression_error() {
    let tmp = TempDir::new().unwrap();
    let mut bytes = gz(&idx_labels(&[1; 100]));
    let n = bytes.len();
    bytes.truncate(n - 12); // cut the deflate stream and the trailer
    let path = write(tmp.path(), "t10k-labels-idx1-ubyte.gz", &bytes);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::Decompress { .. }));
    assert_msg(&err, &path, &["corrupt gzip data", "fetch the file again"]);
}

#[test]
fn io_error_names_the_path() {
    let tmp = TempDir::new().unwrap();
    // A folder where a file belongs: the read fails with an error other than "not found".
    let path = tmp.path().join("labels");
    fs::create_dir(&path).unwrap();
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert_msg(&err, &path, &["cannot read"]);
}

// ---- CIFAR-10 ----

#[test]
fn cifar_wrong_record_size() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "data_batch_1.bin", &vec![0u8; 3073 * 2 + 5]);
    let err = read_cifar_bin(std::slice::from_ref(&path), Split::Train).unwrap_err();
    assert!(matches!(
        err,
        DataError::RecordSize {
            size: 6151,
            record: 3073,
            ..
        }
    ));
    assert_msg(
        &err,
        &path,
        &[
            "wrong size",
            "6151 bytes is not a multiple of the 3073-byte record size",
        ],
    );
}

#[test]
fn cifar_label_out_of_range_gives_record_index() {
    let tmp = TempDir::new().unwrap();
    let mut bytes = vec![0u8; 3073 * 3];
    bytes[3073 * 2] = 11;
    write(
        tmp.path(),
        "test_batch.a.bin",
        &[vec![1u8], vec![7u8; 3072]].concat(),
    );
    let bad = write(tmp.path(), "test_batch.b.bin", &bytes);
    let err = load(DatasetName::Cifar10, tmp.path(), Split::Test).unwrap_err();
    assert!(matches!(
        err,
        DataError::LabelOutOfRange {
            index: 2,
            label: 11,
            ..
        }
    ));
    assert_msg(&err, &bad, &["label out of range", "sample 2 has label 11"]);
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

// ---- N-MNIST ----

#[test]
fn nmnist_wrong_record_size() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "1.bs2", &[0u8; 12]);
    let err = read_nmnist_file(&path).unwrap_err();
    assert_msg(
        &err,
        &path,
        &[
            "wrong size",
            "12 bytes is not a multiple of the 5-byte record size",
        ],
    );
}

#[test]
fn nmnist_event_out_of_range_gives_event_index() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "7.bs2", &[1, 2, 0x80, 0, 5, 3, 34, 0, 0, 9]);
    let err = read_nmnist_file(&path).unwrap_err();
    assert!(matches!(
        err,
        DataError::EventOutOfRange {
            index: 1,
            x: 3,
            y: 34,
            ..
        }
    ));
    assert_msg(
        &err,
        &path,
        &["event 1 out of range", "(x=3, y=34)", "34x34 sensor"],
    );
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
fn nmnist_list_parse_error_gives_line() {
    let tmp = TempDir::new().unwrap();
    let path = write(
        tmp.path(),
        "train1K.txt",
        b"#sample #class\n1\t5\n2 three\n",
    );
    let err = read_nmnist_list(&path).unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 3, .. }));
    assert_msg(
        &err,
        &path,
        &["line 3", "class 'three' is not a whole number"],
    );
}

#[test]
fn nmnist_list_wrong_field_count_gives_line() {
    let tmp = TempDir::new().unwrap();
    let path = write(
        tmp.path(),
        "test100.txt",
        b"#sample #class\n\n60001\t7\t1\n",
    );
    let err = read_nmnist_list(&path).unwrap_err();
    assert_msg(&err, &path, &["line 3", "found 3 fields"]);
}

#[test]
fn nmnist_list_class_out_of_range_gives_line() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "test100.txt", b"60001\t12\n");
    let err = read_nmnist_list(&path).unwrap_err();
    assert_msg(&err, &path, &["line 1", "class 12 is out of range 0..=9"]);
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

// ---- digits ----

fn digits_row(values: &[&str]) -> String {
    values.join(",") + "\n"
}

#[test]
fn digits_malformed_row_gives_line() {
    let tmp = TempDir::new().unwrap();
    let good = digits_row(&[&["0"; 64][..], &["3"]].concat());
    let short = digits_row(&["1"; 10]);
    let path = write(tmp.path(), "digits.csv.gz", &gz((good + &short).as_bytes()));
    let err = read_digits_csv(&path, 0).unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 2, .. }));
    assert_msg(
        &err,
        &path,
        &["line 2", "expected 65 comma-separated numbers", "found 10"],
    );
}

#[test]
fn digits_non_number_gives_line_and_column() {
    let tmp = TempDir::new().unwrap();
    let mut fields = vec!["0"; 65];
    fields[4] = "x";
    let path = write(tmp.path(), "digits.csv", digits_row(&fields).as_bytes());
    let err = read_digits_csv(&path, 0).unwrap_err();
    assert_msg(
        &err,
        &path,
        &["line 1", "column 5: 'x' is not a whole number"],
    );
}

#[test]
fn digits_value_out_of_range() {
    let tmp = TempDir::new().unwrap();
    let mut fields = vec!["1"; 65];
    fields[10] = "17";
    let text = digits_row(&vec!["0"; 65]) + &digits_row(&fields);
    let path = write(tmp.path(), "digits.csv.gz", &gz(text.as_bytes()));
    let err = read_digits_csv(&path, 0).unwrap_err();
    assert!(matches!(
        err,
        DataError::ValueOutOfRange {
            line: 2,
            column: 11,
            max: 16,
            ..
        }
    ));
    assert_msg(
        &err,
        &path,
        &[
            "line 2",
            "value out of range",
            "column 11 is 17, allowed 0..=16",
        ],
    );
}

#[test]
fn digits_class_out_of_range() {
    let tmp = TempDir::new().unwrap();
    let mut fields = vec!["0"; 65];
    fields[64] = "10";
    let path = write(tmp.path(), "digits.csv", digits_row(&fields).as_bytes());
    let err = read_digits_csv(&path, 0).unwrap_err();
    assert_msg(&err, &path, &["column 65 is 10, allowed 0..=9"]);
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

#[test]
fn relative_data_dir_is_reported_as_a_full_path() {
    let err = load(
        DatasetName::Mnist,
        Path::new("no-such-folder"),
        Split::Train,
    )
    .unwrap_err();
    let full = std::env::current_dir().unwrap().join("no-such-folder");
    assert_msg(&err, &full, &["data folder does not exist"]);
}
