// Measurement math on image pixel coordinates [column, row], mirroring the portal's server
// (imaging/measurements.py) so live values match what is saved. No DOM, no Cornerstone.

export const UNCALIBRATED = Object.freeze({
  source: 'none', rowMm: null, columnMm: null, note: 'not calibrated — measurements in pixels',
});

export function isCalibrated(calibration) {
  return calibration.rowMm != null && calibration.columnMm != null;
}

export function unitOf(calibration) {
  return isCalibrated(calibration) ? 'mm' : 'px';
}

function positivePair(value) {
  if (!Array.isArray(value) || value.length < 2) return null;
  const [row, column] = value.map(Number);
  return row > 0 && column > 0 && Number.isFinite(row) && Number.isFinite(column) ? [row, column] : null;
}

/** The image's own calibration: Pixel Spacing, else Imager Pixel Spacing, else none. */
export function calibrationFromHeader({ pixelSpacing, imagerPixelSpacing, magnification } = {}) {
  let spacing = positivePair(pixelSpacing);
  if (spacing) {
    return { source: 'pixel_spacing', rowMm: spacing[0], columnMm: spacing[1], note: 'pixel spacing' };
  }
  spacing = positivePair(imagerPixelSpacing);
  if (spacing) {
    if (magnification && magnification > 0 && magnification !== 1) {
      return {
        source: 'imager_pixel_spacing',
        rowMm: spacing[0] / magnification,
        columnMm: spacing[1] / magnification,
        note: `measured at the detector, corrected for magnification ×${magnification}`,
      };
    }
    return {
      source: 'imager_pixel_spacing', rowMm: spacing[0], columnMm: spacing[1],
      note: 'measured at the detector',
    };
  }
  return UNCALIBRATED;
}

/** A calibration from a line of known length; keeps the pixel aspect of an existing spacing. */
export function calibrationManual(points, knownMm, base = UNCALIBRATED) {
  const pixels = length(points, UNCALIBRATED);
  if (!(pixels > 0)) throw new Error('The calibration line has no length.');
  let rowMm;
  let columnMm;
  if (isCalibrated(base)) {
    const factor = knownMm / length(points, base);
    rowMm = base.rowMm * factor;
    columnMm = base.columnMm * factor;
  } else {
    rowMm = columnMm = knownMm / pixels;
  }
  return { source: 'manual', rowMm, columnMm, note: `manual calibration: ${knownMm} mm line` };
}

export function scaled(point, calibration) {
  const [x, y] = point;
  return isCalibrated(calibration) ? [x * calibration.columnMm, y * calibration.rowMm] : [x, y];
}

export function length(points, calibration) {
  const [x1, y1] = scaled(points[0], calibration);
  const [x2, y2] = scaled(points[1], calibration);
  return Math.hypot(x2 - x1, y2 - y1);
}

function vector(start, end, calibration) {
  const [x1, y1] = scaled(start, calibration);
  const [x2, y2] = scaled(end, calibration);
  return [x2 - x1, y2 - y1];
}

function angleBetween(u, v) {
  const norm = Math.hypot(...u) * Math.hypot(...v);
  if (norm === 0) return NaN;
  const cos = (u[0] * v[0] + u[1] * v[1]) / norm;
  return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
}

function lineAngle(u, v) {
  const a = angleBetween(u, v);
  return Math.min(a, 180 - a);
}

/** The angle at points[1] between the arms to points[0] and points[2], 0–180°. */
export function angle([a, vertex, b], calibration) {
  return angleBetween(vector(vertex, a, calibration), vector(vertex, b, calibration));
}

/** Between line a (points 0–1) and line b (points 2–3), 0–90°. */
export function cobb([a1, a2, b1, b2], calibration) {
  return lineAngle(vector(a1, a2, calibration), vector(b1, b2, calibration));
}

/** Norberg angle per side, at each femoral head centre. */
export function norberg(left, right, calibration) {
  const lc = left.center;
  const rc = right.center;
  return [
    angleBetween(vector(lc, rc, calibration), vector(lc, left.rim, calibration)),
    angleBetween(vector(rc, lc, calibration), vector(rc, right.rim, calibration)),
  ];
}

/** Between the tibial plateau line and the perpendicular to the functional axis. */
export function tibialPlateauAngle(plateau, axis, calibration) {
  const [ax, ay] = vector(axis[0], axis[1], calibration);
  return lineAngle(vector(plateau[0], plateau[1], calibration), [-ay, ax]);
}

export function vertebralSegments(vertebrae, calibration) {
  const segments = [];
  for (let i = 0; i + 1 < vertebrae.length; i += 1) {
    segments.push(length([vertebrae[i], vertebrae[i + 1]], calibration));
  }
  return segments;
}

/** A distance in vertebrae: whole ones while it covers them, then a fraction of the next;
 * beyond the last marked vertebra the mean vertebral length is the unit. */
export function vertebralUnits(distance, segments) {
  let units = 0;
  let rest = distance;
  for (const segment of segments) {
    if (rest >= segment) {
      units += 1;
      rest -= segment;
    } else {
      return units + rest / segment;
    }
  }
  if (rest > 0) units += rest / (segments.reduce((a, b) => a + b, 0) / segments.length);
  return units;
}

/** Vertebral heart score (Buchanan): long + short axis in vertebral units, to 0.1. */
export function vertebralHeartScore({ long_axis: longAxis, short_axis: shortAxis, vertebrae }, calibration) {
  const segments = vertebralSegments(vertebrae, calibration);
  if (!segments.length || Math.min(...segments) <= 0) return null;
  const longUnits = vertebralUnits(length(longAxis, calibration), segments);
  const shortUnits = vertebralUnits(length(shortAxis, calibration), segments);
  return { longUnits, shortUnits, vhs: Math.round((longUnits + shortUnits) * 10) / 10 };
}

export function vhsAssessment(vhs, reference) {
  if (!reference) return '';
  const low = Math.round((reference.mean - 2 * reference.sd) * 10) / 10;
  const high = Math.round((reference.mean + 2 * reference.sd) * 10) / 10;
  if (vhs > high) return 'above';
  if (vhs < low) return 'below';
  return 'within';
}

function box([p1, p2]) {
  return [Math.min(p1[0], p2[0]), Math.min(p1[1], p2[1]), Math.max(p1[0], p2[0]), Math.max(p1[1], p2[1])];
}

/** Area of the rectangle, or of the ellipse inscribed in it (mm² or px²). */
export function roiArea(tool, points, calibration) {
  const [x0, y0, x1, y1] = box(points);
  const [w, h] = scaled([x1 - x0, y1 - y0], calibration);
  return tool === 'ellipse' ? (Math.PI * w * h) / 4 : w * h;
}

/** Mean and SD of the pixels inside the ROI; `pixelAt(column, row)` gives a stored value
 * already through the modality LUT. */
export function roiStatistics(tool, points, columns, rows, pixelAt) {
  const [x0, y0, x1, y1] = box(points);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const rx = (x1 - x0) / 2;
  const ry = (y1 - y0) / 2;
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (let row = Math.max(0, Math.ceil(y0)); row <= Math.min(rows - 1, Math.floor(y1)); row += 1) {
    for (let column = Math.max(0, Math.ceil(x0)); column <= Math.min(columns - 1, Math.floor(x1)); column += 1) {
      if (tool === 'ellipse' && rx > 0 && ry > 0) {
        const dx = (column - cx) / rx;
        const dy = (row - cy) / ry;
        if (dx * dx + dy * dy > 1) continue;
      }
      const value = pixelAt(column, row);
      n += 1;
      sum += value;
      sumSq += value * value;
    }
  }
  if (!n) return null;
  const mean = sum / n;
  return { mean, sd: Math.sqrt(Math.max(0, sumSq / n - mean * mean)), count: n };
}

const round = (value, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** The values a tool shows for a geometry: [{name, label, value, unit}], like the server's. */
export function valuesFor(tool, geometry, calibration, { reference, roi } = {}) {
  const unit = unitOf(calibration);
  switch (tool) {
    case 'length':
      return [{ name: 'length', label: 'Length', value: round(length(geometry.points, calibration), 2), unit }];
    case 'calibration':
      return [
        { name: 'line_length', label: 'Line length', value: round(length(geometry.points, UNCALIBRATED), 2), unit: 'px' },
        { name: 'known_length', label: 'Known length', value: geometry.known_mm, unit: 'mm' },
      ];
    case 'angle':
      return [{ name: 'angle', label: 'Angle', value: round(angle(geometry.points, calibration)), unit: '°' }];
    case 'cobb':
      return [{ name: 'cobb', label: 'Cobb angle', value: round(cobb(geometry.points, calibration)), unit: '°' }];
    case 'ellipse':
    case 'rectangle': {
      const values = [{ name: 'area', label: 'Area', value: round(roiArea(tool, geometry.points, calibration), 2), unit: `${unit}²` }];
      if (roi) {
        values.push({ name: 'mean', label: 'Mean', value: round(roi.mean, 1), unit: roi.unit || '' });
        values.push({ name: 'sd', label: 'SD', value: round(roi.sd, 1), unit: roi.unit || '' });
      }
      return values;
    }
    case 'vhs': {
      const score = vertebralHeartScore(geometry, calibration);
      if (!score) return [];
      const values = [
        { name: 'vhs', label: 'VHS', value: score.vhs, unit: 'v' },
        { name: 'long_axis', label: 'Long axis', value: round(score.longUnits), unit: 'v' },
        { name: 'short_axis', label: 'Short axis', value: round(score.shortUnits), unit: 'v' },
      ];
      if (reference) {
        values.push({
          name: 'reference', label: `${reference.label} reference`,
          value: `${reference.mean} ± ${reference.sd} (${vhsAssessment(score.vhs, reference)})`, unit: '',
        });
      }
      return values;
    }
    case 'norberg': {
      const [left, right] = norberg(geometry.left, geometry.right, calibration);
      return [
        { name: 'norberg_left', label: `Norberg angle, left${round(left) < 105 ? ' (below 105°)' : ''}`, value: round(left), unit: '°' },
        { name: 'norberg_right', label: `Norberg angle, right${round(right) < 105 ? ' (below 105°)' : ''}`, value: round(right), unit: '°' },
      ];
    }
    case 'tpa':
      return [{ name: 'tpa', label: 'Tibial plateau angle', value: round(tibialPlateauAngle(geometry.plateau, geometry.axis, calibration)), unit: '°' }];
    default:
      return [];
  }
}

export function formatValue({ label, value, unit }) {
  const number = typeof value === 'number' ? value : value;
  return `${label}: ${number}${unit ? (unit === '°' ? '°' : ` ${unit}`) : ''}`;
}
