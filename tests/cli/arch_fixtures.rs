//! The golden fixtures are the networks `snnc arch` ships: two of them are exactly what the
//! command writes (but for the name, which is the fixture's), so a drift between the product
//! builders and the snapshots fails here.

use crate::common::{s, snnc, text};

use snnc_compiler::network::{Network, NetworkDesc};

/// Each fixture and the `snnc arch` arguments that build it.
const CLI_BUILT: &[(&str, &[&str])] = &[
    (
        "snasnet_per_step",
        &[
            "snasnet",
            "--genotype",
            "0303 0030 2002 0200",
            "--dataset",
            "cifar10",
            "--width",
            "4",
            "--hidden",
            "32",
            "--second-pool",
            "4",
            "--timesteps",
            "5",
        ],
    ),
    (
        "autosnn",
        &[
            "autosnn",
            "--blocks",
            "SRB_k5,SRB_k5,skip_connect,SRB_k3,SRB_k5",
            "--dataset",
            "cifar10",
            "--width",
            "4",
            "--timesteps",
            "8",
        ],
    ),
];

fn read_desc(path: &std::path::Path) -> NetworkDesc {
    Network::load(path).unwrap_or_else(|e| panic!("{e}")).desc
}

#[test]
fn snnc_arch_writes_the_golden_fixtures_networks() {
    let dir = tempfile::tempdir().unwrap();
    for (fixture, arch_args) in CLI_BUILT {
        let out = dir.path().join(format!("{fixture}.json"));
        let mut args = vec!["arch"];
        args.extend_from_slice(arch_args);
        args.extend_from_slice(&["--out", s(&out)]);
        let o = snnc(&args);
        assert!(o.status.success(), "snnc {args:?}: {}", text(&o));
        let mut shipped = read_desc(&out);
        let golden = read_desc(&crate::fixtures::fixture(fixture).join("network.json"));
        shipped.name = golden.name.clone();
        assert_eq!(
            shipped.to_json_pretty(),
            golden.to_json_pretty(),
            "{fixture}: `snnc {}` and the golden fixture differ; regenerate the fixtures \
             (SNNC_WRITE_FIXTURES=1 cargo test -p snnc-compiler --test it fixtures) and the snapshots",
            args.join(" ")
        );
    }
}
