// The veterinary measurement tools and manual calibration, each a PointsTool with its own
// click order. `toGeometry` / `fromGeometry` map the clicked points (image pixel
// coordinates [column, row]) to and from the geometry the portal saves.
import PointsTool from './pointsTool.js';

const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Vertebral heart score: long axis, short axis, then T4's cranial edge and each following
 * vertebra's; double-click or Enter ends the vertebrae. */
export class VertebralHeartScoreTool extends PointsTool {
  static toolName = 'VertebralHeartScore';
  static contractName = 'vhs';
  static minPoints = 6;
  static maxPoints = 40;
  static lines(n) {
    const lines = [[0, 1], [2, 3]];
    for (let i = 4; i + 1 < n; i += 1) lines.push([i, i + 1]);
    return lines;
  }
  static hint(index) {
    return [
      'long axis: carina end', 'long axis: cardiac apex',
      'short axis: first edge', 'short axis: second edge',
      'cranial edge of T4', 'cranial edge of T5',
    ][index] || `cranial edge of T${index}, or double-click / Enter to finish`;
  }
  static toGeometry(points) {
    return { long_axis: points.slice(0, 2), short_axis: points.slice(2, 4), vertebrae: points.slice(4) };
  }
  static fromGeometry(g) {
    return [...g.long_axis, ...g.short_axis, ...g.vertebrae];
  }
}

/** Norberg angle: per side the femoral head centre, a point on its outline, the acetabular
 * rim — left side first, then right. */
export class NorbergAngleTool extends PointsTool {
  static toolName = 'NorbergAngle';
  static contractName = 'norberg';
  static minPoints = 6;
  static maxPoints = 6;
  static lines(n) {
    const lines = [[0, 2]];
    if (n >= 4) lines.push([0, 3]);
    if (n >= 6) lines.push([3, 5]);
    return lines;
  }
  static circles() { return [[0, 1], [3, 4]]; }
  static hint(index) {
    return [
      'left femoral head: centre', 'left femoral head: edge', 'left acetabular rim',
      'right femoral head: centre', 'right femoral head: edge', 'right acetabular rim',
    ][index] || '';
  }
  static toGeometry(p) {
    return {
      left: { center: p[0], radius: dist(p[0], p[1]), rim: p[2] },
      right: { center: p[3], radius: dist(p[3], p[4]), rim: p[5] },
    };
  }
  static fromGeometry(g) {
    // A point on each circle, straight above its centre.
    const edge = (side) => [side.center[0], side.center[1] - side.radius];
    return [g.left.center, edge(g.left), g.left.rim, g.right.center, edge(g.right), g.right.rim];
  }
}

/** Tibial plateau angle: the plateau's cranial and caudal points, then the functional axis. */
export class TibialPlateauAngleTool extends PointsTool {
  static toolName = 'TibialPlateauAngle';
  static contractName = 'tpa';
  static minPoints = 4;
  static maxPoints = 4;
  static lines() { return [[0, 1], [2, 3]]; }
  static hint(index) {
    return ['plateau: cranial edge', 'plateau: caudal edge', 'axis: intercondylar eminence (proximal)', 'axis: talus centre (distal)'][index] || '';
  }
  static toGeometry(p) { return { plateau: p.slice(0, 2), axis: p.slice(2, 4) }; }
  static fromGeometry(g) { return [...g.plateau, ...g.axis]; }
}

/** A line over something of known size (a calibration ball, a marker): the page asks its mm. */
export class CalibrationTool extends PointsTool {
  static toolName = 'Calibration';
  static contractName = 'calibration';
  static minPoints = 2;
  static maxPoints = 2;
  static hint(index) { return ['one end of the known length', 'the other end'][index] || ''; }
  static toGeometry(p, annotation) {
    return { points: p.slice(0, 2), known_mm: annotation?.data?.knownMm ?? null };
  }
  static fromGeometry(g) { return g.points; }
}

export const VET_TOOLS = [VertebralHeartScoreTool, NorbergAngleTool, TibialPlateauAngleTool, CalibrationTool];
