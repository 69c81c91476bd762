// A Cornerstone annotation tool placed one click (or tap) at a time: the base of the portal's
// veterinary tools (VHS, Norberg, TPA) and of manual calibration. Each click adds the next
// point; a rubber band shows where the next one goes; handles can be dragged afterwards.
// Subclasses say how many points they take, which lines and circles join them and how the
// points map to the saved geometry (image pixel coordinates).
import { getEnabledElement } from '@cornerstonejs/core';
import {
  AnnotationTool, annotation as annotationApi, drawing, utilities as toolUtilities, Enums,
} from '@cornerstonejs/tools';

const { addAnnotation, getAnnotations, removeAnnotation } = annotationApi.state;
const { triggerAnnotationCompleted, triggerAnnotationModified } = annotationApi.state;
const { isAnnotationVisible } = annotationApi.visibility;
const { drawLine, drawHandles, drawTextBox, drawCircle } = drawing;
const { triggerAnnotationRenderForViewportIds } = toolUtilities;
const { Events } = Enums;

const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

export default class PointsTool extends AnnotationTool {
  static toolName = 'Points';

  // Overridden by subclasses.
  static minPoints = 2;
  static maxPoints = 2;
  /** Pairs of point indices joined by a line, given how many points exist. */
  static lines() { return [[0, 1]]; }
  /** Circles as [centreIndex, pointOnCircleIndex]. */
  static circles() { return []; }
  /** What the next click marks, for the hint line. */
  static hint(index) { return `point ${index + 1}`; }

  constructor(toolProps = {}, defaultToolProps = {
    supportedInteractionTypes: ['Mouse', 'Touch'],
    configuration: {
      // (annotation) => string[] — the live values beside the drawing.
      getTextLines: () => [],
      // (tool, annotation | null, hint) — tell the page what the next click marks.
      onProgress: () => {},
    },
  }) {
    super(toolProps, defaultToolProps);
    this.pending = null; // { annotation, element, viewportIdsToRender }
  }

  get klass() { return this.constructor; }

  addNewAnnotation = (evt) => {
    const { currentPoints, element } = evt.detail;
    const world = [...currentPoints.world];
    const annotation = this.createAnnotation(evt, [world]);
    annotation.data.preview = [...world];
    addAnnotation(annotation, element);
    const viewportIdsToRender = this._viewportIds(element);
    this.pending = { annotation, element, viewportIdsToRender };
    element.addEventListener(Events.MOUSE_MOVE, this._previewCallback);
    element.addEventListener(Events.MOUSE_DOUBLE_CLICK, this._finishCallback);
    this.configuration.onProgress(this, annotation, this.klass.hint(1));
    evt.preventDefault();
    triggerAnnotationRenderForViewportIds(viewportIdsToRender);
    return annotation;
  };

  /** While a drawing is in progress every press adds its next point. */
  preMouseDownCallback = (evt) => {
    if (!this.pending || this.pending.element !== evt.detail.element) return false;
    const { annotation, viewportIdsToRender } = this.pending;
    const points = annotation.data.handles.points;
    points.push([...evt.detail.currentPoints.world]);
    annotation.invalidated = true;
    if (points.length >= this.klass.maxPoints) {
      this.finish();
    } else {
      this.configuration.onProgress(this, annotation, this.klass.hint(points.length));
      triggerAnnotationRenderForViewportIds(viewportIdsToRender);
    }
    evt.preventDefault();
    return true;
  };

  _previewCallback = (evt) => {
    if (!this.pending) return;
    this.pending.annotation.data.preview = [...evt.detail.currentPoints.world];
    triggerAnnotationRenderForViewportIds(this.pending.viewportIdsToRender);
  };

  _finishCallback = () => this.finish();

  /** Ends the drawing in progress: kept when it has enough points, else dropped. */
  finish() {
    if (!this.pending) return;
    const { annotation, element, viewportIdsToRender } = this.pending;
    this.pending = null;
    element.removeEventListener(Events.MOUSE_MOVE, this._previewCallback);
    element.removeEventListener(Events.MOUSE_DOUBLE_CLICK, this._finishCallback);
    delete annotation.data.preview;
    // A double click also lands its two presses as points: drop exact repeats.
    const points = annotation.data.handles.points;
    for (let i = points.length - 1; i > 0; i -= 1) {
      if (distance(points[i], points[i - 1]) < 1e-6) points.splice(i, 1);
    }
    if (points.length > this.klass.maxPoints) points.length = this.klass.maxPoints;
    this.configuration.onProgress(this, null, '');
    if (points.length < this.klass.minPoints) {
      removeAnnotation(annotation.annotationUID);
    } else {
      triggerAnnotationCompleted(annotation);
    }
    triggerAnnotationRenderForViewportIds(viewportIdsToRender);
  }

  cancel = (element) => {
    if (!this.pending || (element && this.pending.element !== element)) return undefined;
    const { annotation } = this.pending;
    this.pending.annotation.data.handles.points.length = 0;
    this.finish();
    return annotation.annotationUID;
  };

  _viewportIds(element) {
    const { viewport } = getEnabledElement(element);
    return [viewport.id];
  }

  isPointNearTool = (element, annotation, canvasCoords, proximity) => {
    const { viewport } = getEnabledElement(element);
    const canvas = annotation.data.handles.points.map((p) => viewport.worldToCanvas(p));
    return this.klass.lines(canvas.length).some(([i, j]) => {
      if (!canvas[i] || !canvas[j]) return false;
      return toolUtilities.math.lineSegment.distanceToPoint(canvas[i], canvas[j], canvasCoords) <= proximity;
    });
  };

  toolSelectedCallback = (evt, annotation) => {
    this._startModify(evt, annotation, undefined);
  };

  handleSelectedCallback = (evt, annotation, handle) => {
    const index = annotation.data.handles.points.findIndex((p) => p === handle);
    this._startModify(evt, annotation, index >= 0 ? index : undefined);
  };

  _startModify(evt, annotation, handleIndex) {
    const { element } = evt.detail;
    annotation.highlighted = true;
    this.editData = { annotation, viewportIdsToRender: this._viewportIds(element), handleIndex };
    element.addEventListener(Events.MOUSE_DRAG, this._dragCallback);
    element.addEventListener(Events.MOUSE_UP, this._endCallback);
    element.addEventListener(Events.MOUSE_CLICK, this._endCallback);
    element.addEventListener(Events.TOUCH_DRAG, this._dragCallback);
    element.addEventListener(Events.TOUCH_END, this._endCallback);
    element.addEventListener(Events.TOUCH_TAP, this._endCallback);
    evt.preventDefault();
  }

  _dragCallback = (evt) => {
    if (!this.editData || annotationApi.locking.isAnnotationLocked(this.editData.annotation.annotationUID)) return;
    const { annotation, handleIndex, viewportIdsToRender } = this.editData;
    const points = annotation.data.handles.points;
    if (handleIndex === undefined) {
      const delta = evt.detail.deltaPoints.world;
      points.forEach((p) => { p[0] += delta[0]; p[1] += delta[1]; p[2] += delta[2]; });
    } else {
      points[handleIndex] = [...evt.detail.currentPoints.world];
    }
    annotation.invalidated = true;
    this.editData.hasMoved = true;
    triggerAnnotationRenderForViewportIds(viewportIdsToRender);
    triggerAnnotationModified(annotation, evt.detail.element, 'HandlesUpdated');
  };

  _endCallback = (evt) => {
    const { element } = evt.detail;
    element.removeEventListener(Events.MOUSE_DRAG, this._dragCallback);
    element.removeEventListener(Events.MOUSE_UP, this._endCallback);
    element.removeEventListener(Events.MOUSE_CLICK, this._endCallback);
    element.removeEventListener(Events.TOUCH_DRAG, this._dragCallback);
    element.removeEventListener(Events.TOUCH_END, this._endCallback);
    element.removeEventListener(Events.TOUCH_TAP, this._endCallback);
    if (this.editData) {
      const { annotation, viewportIdsToRender } = this.editData;
      annotation.highlighted = false;
      this.editData = null;
      triggerAnnotationRenderForViewportIds(viewportIdsToRender);
    }
  };

  renderAnnotation = (enabledElement, svgDrawingHelper) => {
    const { viewport } = enabledElement;
    let annotations = getAnnotations(this.getToolName(), viewport.element);
    if (!annotations?.length) return false;
    annotations = this.filterInteractableAnnotationsForElement(viewport.element, annotations);
    if (!annotations?.length) return false;
    const styleSpecifier = { toolGroupId: this.toolGroupId, toolName: this.getToolName(), viewportId: viewport.id };
    for (const annotation of annotations) {
      const { annotationUID, data } = annotation;
      if (!isAnnotationVisible(annotationUID)) continue;
      styleSpecifier.annotationUID = annotationUID;
      const { color, lineWidth, lineDash } = this.getAnnotationStyle({ annotation, styleSpecifier });
      const canvas = data.handles.points.map((p) => viewport.worldToCanvas(p));
      const withPreview = data.preview ? [...canvas, viewport.worldToCanvas(data.preview)] : canvas;
      const options = { color, width: lineWidth, lineWidth, lineDash };
      this.klass.lines(withPreview.length).forEach(([i, j], n) => {
        if (withPreview[i] && withPreview[j]) {
          drawLine(svgDrawingHelper, annotationUID, `line-${n}`, withPreview[i], withPreview[j], options);
        }
      });
      this.klass.circles(withPreview.length).forEach(([c, r], n) => {
        if (withPreview[c] && withPreview[r]) {
          drawCircle(svgDrawingHelper, annotationUID, `circle-${n}`, withPreview[c], distance(withPreview[c], withPreview[r]), options);
        }
      });
      drawHandles(svgDrawingHelper, annotationUID, 'handles', canvas, { color, handleRadius: 4 });
      const lines = this.configuration.getTextLines(annotation) || [];
      if (lines.length && canvas.length) {
        const anchor = canvas.reduce((a, b) => (b[0] > a[0] ? b : a));
        drawTextBox(svgDrawingHelper, annotationUID, 'text', lines, [anchor[0] + 12, anchor[1]], { color });
      }
    }
    return true;
  };
}
