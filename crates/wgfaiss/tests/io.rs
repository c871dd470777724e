//! Vector files: round trips of every format, Fortran-order and every dtype of .npy written
//! by hand (as NumPy lays them out), IDX (MNIST's format) of every element type, gzip, and
//! malformed files named in the error.

use std::path::PathBuf;

use wgfaiss::io::{read_ids, read_vectors, write_ids, write_vectors};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgfaiss-io-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A .npy file as NumPy writes it (version 1.0, header padded to 64 bytes).
fn npy(descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    let total = (10 + h.len() + 1).div_ceil(64) * 64;
    h.push_str(&" ".repeat(total - 11 - h.len()));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn round_trips() {
    let d = dir("rt");
    let v: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    let ids: Vec<i64> = vec![3, -1, 7, 0, 1 << 40, 5];
    for name in ["a.fvecs", "a.npy"] {
        write_vectors(&d.join(name), &v, 4).unwrap();
        let m = read_vectors(&d.join(name)).unwrap();
        assert_eq!((m.rows, m.cols, &m.data), (3, 4, &v), "{name}");
    }
    write_ids(&d.join("i.npy"), &ids, 3).unwrap();
    let m = read_ids(&d.join("i.npy")).unwrap();
    assert_eq!((m.rows, m.cols, &m.data), (2, 3, &ids));
    // .ivecs holds i32: the 2^40 id is refused, small ones round-trip.
    assert!(write_ids(&d.join("i.ivecs"), &ids, 3).is_err());
    write_ids(&d.join("i.ivecs"), &ids[..3], 3).unwrap();
    assert_eq!(read_ids(&d.join("i.ivecs")).unwrap().data, &ids[..3]);
    // .bvecs: u8 components.
    let mut b = Vec::new();
    for row in [[1u8, 2, 255], [0, 9, 10]] {
        b.extend_from_slice(&3i32.to_le_bytes());
        b.extend_from_slice(&row);
    }
    std::fs::write(d.join("b.bvecs"), b).unwrap();
    let m = read_vectors(&d.join("b.bvecs")).unwrap();
    assert_eq!(m.data, vec![1.0, 2.0, 255.0, 0.0, 9.0, 10.0]);
    std::fs::remove_dir_all(&d).unwrap();
}

/// An IDX file: two zero bytes, the element type, the number of dimensions, big-endian sizes.
fn idx(code: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_every_element_type_and_gzip() {
    let d = dir("idx");
    // 2 images of 2 x 3 u8 pixels, as MNIST's train-images-idx3-ubyte.gz: rows 2, columns 6.
    let px: Vec<u8> = vec![0, 1, 2, 250, 254, 255, 9, 8, 7, 6, 5, 4];
    let p = d.join("train-images-idx3-ubyte.gz");
    std::fs::write(&p, gzip(&idx(0x08, &[2, 2, 3], &px))).unwrap();
    let m = read_vectors(&p).unwrap();
    assert_eq!((m.rows, m.cols), (2, 6));
    assert_eq!(m.data, px.iter().map(|&v| f32::from(v)).collect::<Vec<_>>());
    // Labels (1-D): one column, readable as ids too.
    let p = d.join("train-labels-idx1-ubyte");
    std::fs::write(&p, idx(0x08, &[3], &[7, 0, 9])).unwrap();
    let m = read_ids(&p).unwrap();
    assert_eq!((m.rows, m.cols, &m.data), (3, 1, &vec![7, 0, 9]));
    // Signed and wider types, big-endian.
    let be = |vals: &[i64], width: usize| -> Vec<u8> {
        vals.iter()
            .flat_map(|&v| v.to_be_bytes()[8 - width..].to_vec())
            .collect()
    };
    let vals = [-3i64, 100, -128, 127];
    for (code, body) in [
        (0x09, be(&vals, 1)),
        (0x0B, be(&vals, 2)),
        (0x0C, be(&vals, 4)),
        (
            0x0D,
            vals.iter()
                .flat_map(|&v| (v as f32).to_be_bytes())
                .collect(),
        ),
        (
            0x0E,
            vals.iter()
                .flat_map(|&v| (v as f64).to_be_bytes())
                .collect(),
        ),
    ] {
        let p = d.join(format!("t{code}.idx"));
        std::fs::write(&p, idx(code, &[2, 2], &body)).unwrap();
        let m = read_vectors(&p).unwrap();
        assert_eq!(
            m.data,
            vec![-3.0, 100.0, -128.0, 127.0],
            "type 0x{code:02x}"
        );
    }
    // Writers: IDX of f32 and gzip round-trip, every format.
    let v: Vec<f32> = (0..15).map(|i| i as f32 * 0.25 - 1.5).collect();
    for name in ["w.idx", "w.idx.gz", "w.fvecs.gz", "w.npy.gz"] {
        write_vectors(&d.join(name), &v, 5).unwrap();
        let m = read_vectors(&d.join(name)).unwrap();
        assert_eq!((m.rows, m.cols, &m.data), (3, 5, &v), "{name}");
    }
    let gz = std::fs::read(d.join("w.fvecs.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a .gz file is gzip");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn npy_dtypes_and_fortran_order() {
    let d = dir("npy");
    // 2 x 3 matrix [[0, 1, 2], [3, 4, 5]] in every dtype, C and Fortran order.
    let c_order = [0i64, 1, 2, 3, 4, 5];
    let f_order = [0i64, 3, 1, 4, 2, 5];
    for (descr, width) in [("<f4", 4), ("<f8", 8), ("|u1", 1), ("<i4", 4), ("<i8", 8)] {
        for fortran in [false, true] {
            let vals = if fortran { f_order } else { c_order };
            let body: Vec<u8> = vals
                .iter()
                .flat_map(|&v| match (descr, width) {
                    ("<f4", _) => (v as f32).to_le_bytes().to_vec(),
                    ("<f8", _) => (v as f64).to_le_bytes().to_vec(),
                    ("|u1", _) => vec![v as u8],
                    ("<i4", _) => (v as i32).to_le_bytes().to_vec(),
                    _ => v.to_le_bytes().to_vec(),
                })
                .collect();
            let p = d.join("m.npy");
            std::fs::write(&p, npy(descr, fortran, "(2, 3)", &body)).unwrap();
            let m = read_vectors(&p).unwrap();
            assert_eq!((m.rows, m.cols), (2, 3), "{descr} {fortran}");
            assert_eq!(
                m.data,
                vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                "{descr} fortran={fortran}"
            );
            assert_eq!(read_ids(&p).unwrap().data, c_order.to_vec(), "{descr}");
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn malformed_files_are_errors_naming_the_file() {
    let d = dir("bad");
    let mut good = Vec::new();
    for _ in 0..2 {
        good.extend_from_slice(&2i32.to_le_bytes());
        good.extend_from_slice(&[0u8; 8]);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("trunc.fvecs", good[..good.len() - 3].to_vec()),
        ("mixed.fvecs", {
            let mut b = good.clone();
            b[12] = 3;
            b
        }),
        ("zero.fvecs", vec![0, 0, 0, 0]),
        ("empty.fvecs", vec![]),
        ("short.npy", npy("<f4", false, "(2, 3)", &[0u8; 20])),
        ("dtype.npy", npy("<c8", false, "(2, 3)", &[0u8; 48])),
        ("big-endian.npy", npy(">f4", false, "(2, 3)", &[0u8; 24])),
        ("three-d.npy", npy("<f4", false, "(2, 3, 1)", &[0u8; 24])),
        ("magic.npy", b"PK\x03\x04 a zip file".to_vec()),
        ("what.txt", good.clone()),
        ("short-idx3-ubyte", idx(0x08, &[2, 2, 2], &[0u8; 7])),
        ("type-idx1-ubyte", idx(0x0A, &[2], &[0u8; 2])),
        ("zero-dims.idx", idx(0x08, &[], &[])),
        ("header.idx", vec![0, 0, 8, 3, 0, 0]),
        ("magic.idx", vec![1, 0, 8, 1, 0, 0, 0, 1, 7]),
        ("notgzip.fvecs.gz", good.clone()),
        (
            "truncated.idx.gz",
            gzip(&idx(0x08, &[3], &[1, 2, 3]))[..20].to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = read_vectors(&p).expect_err(name);
        assert!(e.to_string().contains(name), "{name}: {e}");
    }
    let e = read_vectors(&d.join("missing.fvecs")).unwrap_err();
    assert!(e.to_string().contains("missing.fvecs"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}
