// node --test viewer/: the live math against hand-computed cases (the server has the same).
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  calibrationFromHeader, calibrationManual, length, angle, cobb, tibialPlateauAngle, norberg,
  vertebralUnits, vertebralHeartScore, UNCALIBRATED, roiStatistics,
} from './measurements.js';

test('length uses column spacing across and row spacing down', () => {
  const cal = calibrationFromHeader({ pixelSpacing: [0.5, 0.25] });
  assert.equal(cal.source, 'pixel_spacing');
  assert.equal(length([[0, 0], [40, 0]], cal), 10);
  assert.equal(length([[0, 0], [0, 40]], cal), 20);
});

test('imager pixel spacing says it is measured at the detector', () => {
  const cal = calibrationFromHeader({ imagerPixelSpacing: [0.2, 0.2] });
  assert.equal(cal.source, 'imager_pixel_spacing');
  assert.match(cal.note, /detector/);
  assert.equal(calibrationFromHeader({}).source, 'none');
});

test('manual calibration from a 25 mm line of 100 px', () => {
  const cal = calibrationManual([[0, 0], [100, 0]], 25);
  assert.equal(cal.columnMm, 0.25);
  assert.equal(length([[0, 0], [0, 40]], cal), 10);
});

test('angles', () => {
  assert.equal(Math.round(angle([[10, 0], [0, 0], [0, 10]], UNCALIBRATED)), 90);
  assert.equal(Math.round(cobb([[0, 0], [10, 0], [0, 0], [10, 10]], UNCALIBRATED)), 45);
  // Plateau at 30° to the perpendicular of a vertical axis.
  const plateau = [[0, 0], [Math.cos(Math.PI / 6) * 10, Math.sin(Math.PI / 6) * 10]];
  assert.equal(Math.round(tibialPlateauAngle(plateau, [[0, 0], [0, 100]], UNCALIBRATED)), 30);
  const [left, right] = norberg(
    { center: [0, 0], radius: 10, rim: [0, -10] },
    { center: [100, 0], radius: 10, rim: [100, -10] },
    UNCALIBRATED,
  );
  assert.equal(Math.round(left), 90);
  assert.equal(Math.round(right), 90);
});

test('vertebral units walk the marked segments, then the mean', () => {
  assert.equal(vertebralUnits(25, [10, 20]), 1.75);
  assert.equal(vertebralUnits(45, [10, 20]), 3);
  const score = vertebralHeartScore({
    long_axis: [[0, 0], [0, 52]], short_axis: [[0, 0], [41, 0]],
    vertebrae: [[0, 0], [10, 0], [20, 0], [30, 0], [40, 0], [50, 0]],
  }, UNCALIBRATED);
  assert.equal(score.vhs, 9.3);
});

test('ROI statistics inside the ellipse', () => {
  const stats = roiStatistics('rectangle', [[0, 0], [1, 1]], 4, 4, (c, r) => c + r);
  assert.equal(stats.count, 4);
  assert.equal(stats.mean, 1);
});
