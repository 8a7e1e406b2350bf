//! Screenshots as images, and reading their text with tesseract (OCR). Shared by the dashboard
//! tests and the boot tests of `exo-vm` (vm/tests/boot.rs includes this file by path).
#![allow(dead_code)] // each test uses a different part

use std::{
    io::BufReader,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Fail (not skip) when a program the suite needs is missing: `./x test` installs them.
pub fn require_program(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed; run ./x test (it installs the Debian packages)"
    );
}

/// An RGBA image decoded from a PNG, and the file it came from (for OCR).
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub path: PathBuf,
}

impl Image {
    pub fn load(path: &Path) -> Image {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let decoder = png::Decoder::new(BufReader::new(file));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        buf.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        Image {
            width: info.width,
            height: info.height,
            rgba,
            path: path.to_path_buf(),
        }
    }

    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }

    /// How many pixels of the rectangle have exactly this colour.
    pub fn count(&self, rgb: [u8; 3], x: u32, y: u32, w: u32, h: u32) -> usize {
        let mut n = 0;
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                n += usize::from(self.rgb(xx, yy) == rgb);
            }
        }
        n
    }

    /// Everything tesseract reads in the rectangle, over a few preprocessings (light text on
    /// dark colours reads best negated), lower-cased.
    pub fn ocr_text(&self, area: Area) -> String {
        let mut all = String::new();
        for (i, args) in PREPROCESS.iter().enumerate() {
            let prepared = self.prepare(i, area, args);
            let out = Command::new("tesseract")
                .arg(&prepared)
                .args(["-", "--psm", "11"])
                .stderr(Stdio::null())
                .output()
                .expect("run tesseract");
            all.push_str(&String::from_utf8_lossy(&out.stdout).to_lowercase());
            all.push('\n');
        }
        all
    }

    /// Words tesseract finds in the rectangle, with their boxes in screenshot pixels.
    pub fn ocr_words(&self, area: Area) -> Vec<Word> {
        self.ocr_words_using(area, &PREPROCESS)
    }

    /// [`Image::ocr_words`] over other preprocessings (`convert` arguments after the crop;
    /// they must scale by [`OCR_SCALE`]), e.g. one channel for coloured text.
    pub fn ocr_words_using(&self, area: Area, preprocess: &[&[&str]]) -> Vec<Word> {
        let mut words = Vec::new();
        for (i, args) in preprocess.iter().enumerate() {
            let prepared = self.prepare(i, area, args);
            let out = Command::new("tesseract")
                .arg(&prepared)
                // Sparse text: UI labels scattered over the screen, not a page of prose.
                .args(["-", "--psm", "11", "tsv"])
                .stderr(Stdio::null())
                .output()
                .expect("run tesseract");
            for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
                let cols: Vec<&str> = line.split('\t').collect();
                if cols.len() < 12 || cols[11].trim().is_empty() {
                    continue;
                }
                let num = |i: usize| cols[i].parse::<f64>().unwrap_or(0.0) / OCR_SCALE;
                words.push(Word {
                    text: cols[11].trim().to_lowercase(),
                    x: area.x as f64 + num(6),
                    y: area.y as f64 + num(7),
                    w: num(8),
                    h: num(9),
                });
            }
        }
        words
    }

    fn prepare(&self, i: usize, area: Area, args: &[&str]) -> PathBuf {
        require_program("tesseract");
        require_program("convert");
        let out = self.path.with_extension(format!("ocr{i}.png"));
        let crop = format!("{}x{}+{}+{}", area.w, area.h, area.x, area.y);
        let status = Command::new("convert")
            .arg(&self.path)
            .args(["-crop", &crop, "+repage"])
            .args(args)
            .arg(&out)
            .status()
            .expect("run convert (imagemagick)");
        assert!(status.success(), "convert failed");
        out
    }
}

/// How much the OCR preprocessing enlarges (tesseract reads small UI text better enlarged).
const OCR_SCALE: f64 = 3.0;
const PREPROCESS: [&[&str]; 2] = [NEGATED, NEGATED_THRESHOLD];
const NEGATED: &[&str] = &["-colorspace", "Gray", "-negate", "-scale", "300%"];
const NEGATED_THRESHOLD: &[&str] = &[
    "-colorspace",
    "Gray",
    "-negate",
    "-scale",
    "300%",
    "-threshold",
    "60%",
];
/// [`PREPROCESS`] and one more for white labels on the capsule-coloured title bars: the lower
/// threshold turns the bar white and the text black.
pub const PREPROCESS_TITLE_BARS: [&[&str]; 3] = [
    NEGATED,
    NEGATED_THRESHOLD,
    &[
        "-colorspace",
        "Gray",
        "-negate",
        "-scale",
        "300%",
        "-threshold",
        "40%",
    ],
];

/// A rectangle of a screenshot, in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// A word read by OCR and where it is.
#[derive(Debug, Clone)]
pub struct Word {
    pub text: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Word {
    pub fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}
