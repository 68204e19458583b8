//! The geometry between the detector and the recogniser: a text region's four corners in reading
//! order, growing a region by the DB "unclip" rule, and cutting a region out of the page by
//! perspective so a tilted line comes out flat.

use image::{Rgb, RgbImage};

/// A point on the page, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn distance(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// A text region: top-left, top-right, bottom-right, bottom-left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// Orders four corners as the DB post-processing does: the two leftmost (by x) are the left
    /// side, top one first; the two rightmost the right side.
    pub fn ordered(mut points: [Point; 4]) -> Self {
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let (left, right) = points.split_at(2);
        let (top_left, bottom_left) = if left[0].y <= left[1].y {
            (left[0], left[1])
        } else {
            (left[1], left[0])
        };
        let (top_right, bottom_right) = if right[0].y <= right[1].y {
            (right[0], right[1])
        } else {
            (right[1], right[0])
        };
        Self([top_left, top_right, bottom_right, bottom_left])
    }

    pub fn top_left(&self) -> Point {
        self.0[0]
    }

    /// The width and height of the flattened region (the longer of each pair of sides).
    pub fn size(&self) -> (f32, f32) {
        let [tl, tr, br, bl] = self.0;
        (
            tl.distance(tr).max(bl.distance(br)),
            tl.distance(bl).max(tr.distance(br)),
        )
    }

    /// The smallest upright box holding the region: (left, top, right, bottom).
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let xs = self.0.map(|p| p.x);
        let ys = self.0.map(|p| p.y);
        (
            xs.into_iter().fold(f32::INFINITY, f32::min),
            ys.into_iter().fold(f32::INFINITY, f32::min),
            xs.into_iter().fold(f32::NEG_INFINITY, f32::max),
            ys.into_iter().fold(f32::NEG_INFINITY, f32::max),
        )
    }

    /// Every corner scaled and kept inside a `width` × `height` page.
    pub fn scaled(&self, sx: f32, sy: f32, width: f32, height: f32) -> Self {
        Self(self.0.map(|p| {
            Point::new(
                (p.x * sx).clamp(0.0, width - 1.0),
                (p.y * sy).clamp(0.0, height - 1.0),
            )
        }))
    }
}

/// The DB "unclip" distance for a region of `width` × `height`: area × ratio / perimeter. A
/// detected text kernel is shrunk by this much in training; growing it back by the same
/// distance on every side gives the text's own extent. For a rectangle, offsetting the polygon
/// outwards and taking the smallest rectangle around the result (what the reference does with a
/// polygon clipper) is the rectangle grown by the distance on each side.
pub fn unclip_distance(width: f32, height: f32, ratio: f32) -> f32 {
    let perimeter = 2.0 * (width + height);
    if perimeter <= 0.0 {
        return 0.0;
    }
    width * height * ratio / perimeter
}

/// Solves the 3×3 homography taking `from`'s corners to `to`'s (the 8 unknowns of the
/// projective transform by Gaussian elimination). `None` for degenerate corners.
fn homography(from: &[Point; 4], to: &[Point; 4]) -> Option<[f32; 9]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i].x), f64::from(from[i].y));
        let (u, v) = (f64::from(to[i].x), f64::from(to[i].y));
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for column in 0..8 {
        let pivot =
            (column..8).max_by(|&r, &s| a[r][column].abs().total_cmp(&a[s][column].abs()))?;
        if a[pivot][column].abs() < 1e-9 {
            return None;
        }
        a.swap(column, pivot);
        let pivot_row = a[column];
        for (row, values) in a.iter_mut().enumerate() {
            if row != column {
                let factor = values[column] / pivot_row[column];
                for (value, pivot_value) in values.iter_mut().zip(pivot_row).skip(column) {
                    *value -= factor * pivot_value;
                }
            }
        }
    }
    let mut h = [0f32; 9];
    for i in 0..8 {
        h[i] = (a[i][8] / a[i][i]) as f32;
    }
    h[8] = 1.0;
    Some(h)
}

/// The region `quad` of `page` cut out and flattened to its own width and height (the
/// perspective transform from an upright rectangle onto the quad, sampled bilinearly). `None`
/// for a region too small to read.
pub fn crop(page: &RgbImage, quad: &Quad) -> Option<RgbImage> {
    let (width, height) = quad.size();
    let (w, h) = (width.round() as u32, height.round() as u32);
    if w < 2 || h < 2 {
        return None;
    }
    let target = [
        Point::new(0.0, 0.0),
        Point::new(w as f32, 0.0),
        Point::new(w as f32, h as f32),
        Point::new(0.0, h as f32),
    ];
    // Output pixel → page pixel.
    let m = homography(&target, &quad.0)?;
    let mut out = RgbImage::new(w, h);
    let (pw, ph) = (page.width() as f32, page.height() as f32);
    for (ox, oy, pixel) in out.enumerate_pixels_mut() {
        let (x, y) = (ox as f32 + 0.5, oy as f32 + 0.5);
        let d = m[6] * x + m[7] * y + m[8];
        let sx = (m[0] * x + m[1] * y + m[2]) / d - 0.5;
        let sy = (m[3] * x + m[4] * y + m[5]) / d - 0.5;
        *pixel = sample(page, sx.clamp(0.0, pw - 1.0), sy.clamp(0.0, ph - 1.0));
    }
    Some(out)
}

fn sample(page: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let x1 = (x0 + 1).min(page.width() - 1);
    let y1 = (y0 + 1).min(page.height() - 1);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let [a, b, c, d] = [
        page.get_pixel(x0, y0),
        page.get_pixel(x1, y0),
        page.get_pixel(x0, y1),
        page.get_pixel(x1, y1),
    ];
    let mut out = [0u8; 3];
    for (channel, value) in out.iter_mut().enumerate() {
        let top = f32::from(a[channel]) * (1.0 - fx) + f32::from(b[channel]) * fx;
        let bottom = f32::from(c[channel]) * (1.0 - fx) + f32::from(d[channel]) * fx;
        *value = (top * (1.0 - fy) + bottom * fy).round() as u8;
    }
    Rgb(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_come_out_in_reading_order_whatever_order_they_go_in() {
        let corners = [
            Point::new(10.0, 20.0),
            Point::new(0.0, 0.0),
            Point::new(0.0, 20.0),
            Point::new(10.0, 0.0),
        ];
        let quad = Quad::ordered(corners);
        assert_eq!(
            quad.0,
            [
                Point::new(0.0, 0.0),
                Point::new(10.0, 0.0),
                Point::new(10.0, 20.0),
                Point::new(0.0, 20.0)
            ]
        );
        assert_eq!(quad.size(), (10.0, 20.0));
    }

    #[test]
    fn unclip_grows_a_thin_line_by_a_fraction_of_its_height() {
        // A 100 × 10 kernel, ratio 1.6: 1000 × 1.6 / 220.
        let d = unclip_distance(100.0, 10.0, 1.6);
        assert!((d - 7.2727).abs() < 1e-3, "{d}");
        assert_eq!(unclip_distance(0.0, 0.0, 1.6), 0.0);
    }

    #[test]
    fn an_upright_crop_copies_the_pixels() {
        let page = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 7]));
        let quad = Quad([
            Point::new(10.0, 5.0),
            Point::new(30.0, 5.0),
            Point::new(30.0, 15.0),
            Point::new(10.0, 15.0),
        ]);
        let cut = crop(&page, &quad).unwrap();
        assert_eq!(cut.dimensions(), (20, 10));
        assert_eq!(cut.get_pixel(0, 0), &Rgb([10, 5, 7]));
        assert_eq!(cut.get_pixel(19, 9), &Rgb([29, 14, 7]));
    }

    #[test]
    fn a_tilted_region_is_flattened() {
        // A page with a diagonal band; the quad follows it, so the crop is uniform.
        let page = RgbImage::from_fn(100, 100, |x, y| {
            let on_band = (y as i32 - x as i32 / 2 - 20).abs() < 6;
            Rgb(if on_band { [0, 0, 0] } else { [255, 255, 255] })
        });
        let quad = Quad([
            Point::new(10.0, 22.0),
            Point::new(90.0, 62.0),
            Point::new(90.0, 66.0),
            Point::new(10.0, 26.0),
        ]);
        let cut = crop(&page, &quad).unwrap();
        let dark = cut.pixels().filter(|p| p[0] < 128).count();
        assert!(
            dark * 10 > cut.pixels().count() * 9,
            "{dark} of {}",
            cut.pixels().count()
        );
    }
}
