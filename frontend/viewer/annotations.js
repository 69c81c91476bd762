// Annotations: Cornerstone's drawings turned into the portal's geometry (image pixels) and
// back, saved through /api/, listed beside the images with the server's values.
import { utilities as csUtils, getRenderingEngine, metaData } from '@cornerstonejs/core';
import { annotation as annotationApi, utilities as toolUtilities } from '@cornerstonejs/tools';
import { CONTRACT_NAMES, TOOL_FOR_CONTRACT, TOOL_GROUP_ID } from './setup.js';
import { VET_TOOLS } from './tools/vetTools.js';

const VET_BY_NAME = Object.fromEntries(VET_TOOLS.map((Tool) => [Tool.toolName, Tool]));
const { state: annState, visibility, locking } = annotationApi;

const toImage = (imageId, world) => {
  const [x, y] = csUtils.worldToImageCoords(imageId, world);
  return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
};
const toWorld = (imageId, point) => csUtils.imageToWorldCoords(imageId, point);

function boxOf(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
}

/** { tool, geometry, text } of a Cornerstone annotation, points in image pixels. */
export function toContract(annotation) {
  const toolName = annotation.metadata.toolName;
  const imageId = annotation.metadata.referencedImageId;
  const tool = CONTRACT_NAMES[toolName];
  const image = annotation.data.handles.points.map((p) => toImage(imageId, p));
  switch (tool) {
    case 'length':
      return { tool, geometry: { points: image.slice(0, 2) }, text: '' };
    case 'angle':
      return { tool, geometry: { points: image.slice(0, 3) }, text: '' };
    case 'cobb':
      return { tool, geometry: { points: image.slice(0, 4) }, text: '' };
    case 'arrow': // the arrow head is the first point
      return { tool, geometry: { points: image.slice(0, 2) }, text: annotation.data.text || '' };
    case 'ellipse':
    case 'rectangle':
      return { tool, geometry: { points: boxOf(image) }, text: '' };
    case 'text':
      return { tool, geometry: { points: image.slice(0, 1) }, text: annotation.data.label || '' };
    default: {
      const Tool = VET_BY_NAME[toolName];
      return Tool ? { tool, geometry: Tool.toGeometry(image, annotation), text: '' } : null;
    }
  }
}

/** Cornerstone handle points (world) for a saved geometry on `imageId`. */
function handlePoints(tool, geometry, imageId) {
  const w = (p) => toWorld(imageId, p);
  if (tool === 'ellipse') {
    const [[x0, y0], [x1, y1]] = boxOf(geometry.points);
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    return [[cx, y0], [cx, y1], [x0, cy], [x1, cy]].map(w);
  }
  if (tool === 'rectangle') {
    const [[x0, y0], [x1, y1]] = boxOf(geometry.points);
    return [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(w);
  }
  const Tool = VET_BY_NAME[TOOL_FOR_CONTRACT[tool]];
  if (Tool) return Tool.fromGeometry(geometry).map(w);
  return geometry.points.map(w);
}

/** Puts a saved annotation on its image (shown whenever a viewport displays that image). */
export function addSaved(saved, imageId, element) {
  const toolName = TOOL_FOR_CONTRACT[saved.tool];
  if (!toolName) return null;
  const points = handlePoints(saved.tool, saved.geometry, imageId);
  const data = { handles: { points, activeHandleIndex: null, textBox: { hasMoved: false } }, cachedStats: {} };
  if (saved.tool === 'arrow') data.text = saved.text;
  if (saved.tool === 'text') data.label = saved.text;
  if (saved.tool === 'calibration') data.knownMm = saved.geometry.known_mm;
  const { viewPlaneNormal, viewUp } = planeOf(imageId);
  const annotation = {
    annotationUID: `saved-${saved.id}`,
    highlighted: false,
    invalidated: true,
    isLocked: !saved.can_edit,
    isVisible: true,
    metadata: {
      toolName,
      referencedImageId: imageId,
      FrameOfReferenceUID: planeOf(imageId).frameOfReferenceUID,
      viewPlaneNormal,
      viewUp,
    },
    data,
  };
  // Annotations are grouped by frame of reference; images without one share the viewport's.
  annState.addAnnotation(annotation, annotation.metadata.FrameOfReferenceUID || element);
  if (!saved.can_edit) locking.setAnnotationLocked(annotation.annotationUID, true);
  return annotation;
}

function planeOf(imageId) {
  const meta = metaData.get('imagePlaneModule', imageId) || {};
  const row = meta.rowCosines || [1, 0, 0];
  const col = meta.columnCosines || [0, 1, 0];
  const normal = [
    row[1] * col[2] - row[2] * col[1],
    row[2] * col[0] - row[0] * col[2],
    row[0] * col[1] - row[1] * col[0],
  ];
  return { viewPlaneNormal: normal, viewUp: col.map((v) => -v), frameOfReferenceUID: meta.frameOfReferenceUID };
}

export function setAllVisible(visible) {
  for (const annotation of annState.getAllAnnotations()) {
    visibility.setAnnotationVisibility(annotation.annotationUID, visible);
  }
  const engine = getRenderingEngine('portal-engine');
  if (engine) toolUtilities.triggerAnnotationRenderForViewportIds(engine.getViewports().map((v) => v.id));
}

export function removeFromView(annotationUID) {
  annState.removeAnnotation(annotationUID);
  const engine = getRenderingEngine('portal-engine');
  if (engine) toolUtilities.triggerAnnotationRenderForViewportIds(engine.getViewports().map((v) => v.id));
}

export { TOOL_GROUP_ID };

/** The annotations REST API with the session's CSRF token. */
export class AnnotationApi {
  constructor(api, csrfToken) {
    this.api = api;
    this.csrfToken = csrfToken;
  }

  async _send(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': this.csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let payload = null;
    if (response.status !== 204) {
      try { payload = await response.json(); } catch { payload = null; }
    }
    if (!response.ok) {
      const error = new Error(messageOf(payload) || `The server answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return payload;
  }

  list() { return this._send('GET', this.api.annotations); }
  create(body) { return this._send('POST', this.api.annotations, body); }
  update(id, body) { return this._send('PATCH', `${this.api.annotation}${id}/`, body); }
  remove(id) { return this._send('DELETE', `${this.api.annotation}${id}/`); }
  exportToStudy() { return this._send('POST', this.api.export, {}); }
  keyImage(body) { return this._send('POST', this.api.key_images, body); }
}

function messageOf(payload) {
  if (!payload) return '';
  if (typeof payload === 'string') return payload;
  if (payload.detail) return String(payload.detail);
  return Object.entries(payload).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : JSON.stringify(v)}`).join('; ');
}
