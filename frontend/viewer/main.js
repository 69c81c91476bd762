// The portal's diagnostic viewer: series strip, 1 / 1×2 / 2×2 viewports, window/level, zoom,
// pan, rotate, flip, invert, scroll, cine, calibrated measurements, veterinary tools, and
// annotations saved to the portal. Data comes from the portal's DICOMweb (WADO-RS).
import './csp.js';
import './viewer.css';
import { cache, eventTarget, utilities as csUtils } from '@cornerstonejs/core';
import { Enums as ToolEnums, utilities as toolUtilities, annotation as annotationApi } from '@cornerstonejs/tools';
import { startCornerstone, setPrimaryTool, CONTRACT_NAMES } from './setup.js';
import { loadSeries } from './series.js';
import { ViewportGrid } from './viewports.js';
import { toContract, addSaved, setAllVisible, removeFromView, AnnotationApi } from './annotations.js';
import { bindKeys, renderHelp } from './keyboard.js';
import { calibrationManual, isCalibrated, valuesFor, formatValue, roiStatistics } from './measurements.js';
import { renderCalibration, renderOverlay } from './overlay.js';
import { AnnotationList } from './annotationList.js';
import { ask } from './ask.js';
import { installPrint, printedImage } from './print.js';
import { showMedia } from './media.js';

const CT_PRESETS = [
  { label: 'Soft tissue 40/400', center: 40, width: 400 },
  { label: 'Bone 300/1500', center: 300, width: 1500 },
  { label: 'Lung −600/1500', center: -600, width: 1500 },
];

const root = document.getElementById('viewer');
const config = JSON.parse(document.getElementById('viewer-config').textContent);
const $ = (selector) => root.querySelector(selector);
const messageLine = $('[data-viewer-message]');

const seriesCache = new Map(); // series UID → Promise<series>
const imageInfo = new Map(); // imageId → { sopInstanceUid, frame, series, ... }
const manualCalibration = new Map(); // SOP Instance UID → calibration
const api = new AnnotationApi(config.api, config.csrf_token);
const timings = { firstImageMs: null };
let saved = []; // annotations from the server
let annotationsShown = true;

function say(text, kind = 'info') {
  messageLine.hidden = !text;
  messageLine.textContent = text || '';
  messageLine.dataset.kind = kind;
}

/** The calibration in force for an image: manual (if drawn) > Pixel Spacing > Imager. */
function calibrationFor(imageId) {
  const info = imageInfo.get(imageId);
  if (!info) return { source: 'none', rowMm: null, columnMm: null, note: 'not calibrated — measurements in pixels' };
  return manualCalibration.get(info.sopInstanceUid) || info.headerCalibration;
}

function roiFor(tool, geometry, imageId) {
  if (tool !== 'ellipse' && tool !== 'rectangle') return undefined;
  const image = cache.getImage(imageId);
  const info = imageInfo.get(imageId);
  if (!image || !info) return undefined;
  const pixels = image.getPixelData();
  const { columns, rows } = image;
  const scaled = image.preScale?.scaled;
  const slope = scaled ? 1 : info.slope;
  const intercept = scaled ? 0 : info.intercept;
  const stats = roiStatistics(tool, geometry.points, columns, rows, (c, r) => pixels[r * columns + c] * slope + intercept);
  return stats && { ...stats, unit: info.modality === 'CT' ? 'HU' : '' };
}


function liveValues(annotation) {
  const imageId = annotation.metadata.referencedImageId;
  try {
    // While a points tool is being drawn its geometry may be incomplete: no values yet.
    const contract = toContract(annotation);
    if (!contract) return [];
    return valuesFor(contract.tool, contract.geometry, calibrationFor(imageId), {
      reference: config.vhs_reference,
      roi: roiFor(contract.tool, contract.geometry, imageId),
    });
  } catch {
    return [];
  }
}

/** The text beside a drawing: live while drawing, the server's once saved. */
function textLines(toolName, data, targetId, annotation) {
  const imageId = annotation?.metadata?.referencedImageId || (targetId || '').replace(/^imageId:/, '');
  const full = annotation || { metadata: { toolName, referencedImageId: imageId }, data };
  const entry = list.byUid(full.annotationUID);
  const values = entry?.saved?.values?.length ? entry.saved.values : liveValues(full);
  const lines = values.filter((v) => v.name !== 'reference').map(formatValue);
  const label = data.text || data.label;
  if (label && CONTRACT_NAMES[toolName] === 'arrow') lines.unshift(label);
  return lines;
}

function askText(question, current, done) {
  ask(root, question, { value: current }).then((answer) => done(answer == null ? current : answer));
}

const hintLine = $('[data-annotation-status]');
function onProgress(tool, annotation, hint) {
  hintLine.textContent = annotation ? `${tool.getToolName().replace(/([a-z])([A-Z])/g, '$1 $2')}: click the ${hint}.` : '';
  root.dataset.drawing = annotation ? tool.getToolName() : '';
}

const { toolGroup, renderingEngine } = await startCornerstone({ getTextLines: textLines, onProgress, askText });

const grid = new ViewportGrid({
  root: $('[data-viewport-grid]'),
  renderingEngine,
  toolGroup,
  onActivate: () => { fillPresets(); updateCalibrationPanel(); },
  onDropSeries: (entry, uid) => showSeries(entry, uid),
  onChange: (entry) => updateOverlay(entry),
});

const list = new AnnotationList({
  root: $('[data-annotation-list]'),
  onGoTo: (item) => goTo(item),
  onDelete: (item) => deleteAnnotation(item),
});

// Series -------------------------------------------------------------------------------------

function seriesConfig(uid) {
  return config.series.find((s) => s.uid === uid);
}

function getSeries(uid) {
  if (!seriesCache.has(uid)) {
    const promise = loadSeries({ dicomwebRoot: config.dicomweb, studyUid: config.study.uid, seriesUid: uid }).then((series) => {
      series.label = seriesConfig(uid)?.label || series.description;
      for (const [imageId, info] of series.images) {
        imageInfo.set(imageId, { ...info, modality: series.modality, seriesUid: uid });
      }
      placeSavedAnnotations(series);
      return series;
    });
    promise.catch(() => seriesCache.delete(uid));
    seriesCache.set(uid, promise);
  }
  return seriesCache.get(uid);
}

async function showSeries(entry, uid, index = 0) {
  say('');
  if (showMedia(entry, seriesConfig(uid))) {
    // A video or PDF takes the viewport's place (media.js); image tools rest meanwhile.
    stopCine(entry);
    entry.series = null;
    previewDone();
    if (root.dataset.state === 'loading') root.dataset.state = 'ready';
    return;
  }
  try {
    const series = await getSeries(uid);
    if (!series.imageIds.length) {
      previewDone();
      say('This series has no images to show.', 'warn');
      return;
    }
    stopCine(entry);
    await grid.show(entry, series, Math.min(index, series.imageIds.length - 1));
    toolUtilities.stackPrefetch.enable(entry.element);
    root.querySelectorAll('[data-series-uid]').forEach((tile) => {
      if (tile.classList.contains('series-tile')) {
        tile.classList.toggle('shown', grid.cells.some((c) => c.series?.uid === tile.dataset.seriesUid));
      }
    });
    fillPresets();
    updateCalibrationPanel();
  } catch (error) {
    previewDone();
    say(error.message || 'The images could not be loaded.', 'error');
  }
}

// Overlay ------------------------------------------------------------------------------------

function updateOverlay(entry) {
  const viewport = grid.viewport(entry);
  if (!viewport || !entry.series) return;
  const imageId = viewport.getCurrentImageId();
  const info = imageInfo.get(imageId);
  const image = imageId ? cache.getImage(imageId) : null;
  renderOverlay(entry.overlay, {
    patient: config.patient,
    study: config.study,
    series: entry.series,
    index: viewport.getCurrentImageIdIndex(),
    count: entry.series.imageIds.length,
    info,
    viewport,
    calibration: calibrationFor(imageId),
  });
  if (image && timings.firstImageMs == null) {
    // From the start of navigation (performance.now()'s origin): what the person waits.
    timings.firstImageMs = Math.round(performance.now());
    root.dataset.firstImageMs = String(timings.firstImageMs);
    root.dataset.state = 'ready';
    previewDone();
  }
  if (entry === grid.active) updateCalibrationPanel();
}

/** Removes the rendered preview once the diagnostic image is on screen (or cannot come). */
function previewDone() {
  const preview = root.querySelector('[data-viewer-preview]');
  if (!preview) return;
  // The viewport draws on the next animation frame: keep the preview until it has.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    preview.remove();
    delete root.dataset.preview;
  }));
}

function updateCalibrationPanel() {
  const viewport = grid.viewport();
  const imageId = viewport?.getCurrentImageId?.();
  renderCalibration($('[data-calibration-panel]'), imageId ? calibrationFor(imageId) : null, () => choose('Calibration'));
}

// Window presets -----------------------------------------------------------------------------

const presetSelect = $('[data-window-preset]');
let presets = [];

function fillPresets() {
  const entry = grid.active;
  const viewport = grid.viewport(entry);
  const imageId = viewport?.getCurrentImageId?.();
  const info = imageInfo.get(imageId);
  presets = [...(entry?.series?.modality === 'CT' ? CT_PRESETS : []), ...(info?.windows || [])];
  presetSelect.replaceChildren(new Option('Window…', ''));
  presets.forEach((preset, i) => presetSelect.append(new Option(preset.label, String(i))));
}

function applyPreset(index) {
  const preset = presets[index];
  const viewport = grid.viewport();
  if (!preset || !viewport) return;
  viewport.setProperties({ voiRange: csUtils.windowLevel.toLowHighRange(preset.width, preset.center) });
  viewport.render();
}

presetSelect.addEventListener('change', () => {
  if (presetSelect.value !== '') applyPreset(Number(presetSelect.value));
  presetSelect.value = '';
});

// View actions -------------------------------------------------------------------------------

function stopCine(entry = grid.active) {
  if (entry?.cine) {
    toolUtilities.cine.stopClip(entry.element);
    entry.cine = false;
  }
  $('[data-action="cine"]').setAttribute('aria-pressed', String(Boolean(grid.active?.cine)));
}

const actions = {
  rotate() {
    const viewport = grid.viewport();
    const { rotation = 0 } = viewport.getViewPresentation();
    viewport.setViewPresentation({ rotation: (rotation + 90) % 360 });
    viewport.render();
  },
  flipH() {
    const viewport = grid.viewport();
    viewport.setCamera({ flipHorizontal: !viewport.getCamera().flipHorizontal });
    viewport.render();
  },
  flipV() {
    const viewport = grid.viewport();
    viewport.setCamera({ flipVertical: !viewport.getCamera().flipVertical });
    viewport.render();
  },
  invert() {
    const viewport = grid.viewport();
    viewport.setProperties({ invert: !viewport.getProperties().invert });
    viewport.render();
  },
  reset() {
    const viewport = grid.viewport();
    viewport.resetCamera();
    viewport.resetProperties();
    viewport.render();
  },
  cine() {
    const entry = grid.active;
    if (!entry?.series) return;
    if (entry.cine) {
      stopCine(entry);
      return;
    }
    if (entry.series.imageIds.length < 2) {
      say('Cine needs more than one image or frame.', 'warn');
      return;
    }
    const framesPerSecond = entry.series.frameRate || 15;
    toolUtilities.cine.playClip(entry.element, { framesPerSecond, loop: true });
    entry.cine = true;
    root.dataset.cineFps = String(Math.round(framesPerSecond * 10) / 10);
    $('[data-action="cine"]').setAttribute('aria-pressed', 'true');
  },
  previous: () => grid.scroll(-1),
  next: () => grid.scroll(1),
  previous10: () => grid.scroll(-10),
  next10: () => grid.scroll(10),
  first: () => jumpTo(0),
  last: () => jumpTo(Infinity),
  preset1: () => applyPreset(0),
  preset2: () => applyPreset(1),
  preset3: () => applyPreset(2),
  preset4: () => applyPreset(presets.findIndex((p) => p.label.startsWith('File'))),
  nextViewport: () => grid.activate((grid.activeIndex + 1) % grid.cells.length),
  finish: () => finishDrawing(),
  escape: () => {
    for (const name of ['VertebralHeartScore', 'NorbergAngle', 'TibialPlateauAngle', 'Calibration']) {
      toolGroup.getToolInstance(name)?.cancel();
    }
    toggleHelp(false);
  },
  toggleAnnotations() {
    annotationsShown = !annotationsShown;
    setAllVisible(annotationsShown);
    $('[data-action="toggleAnnotations"]').setAttribute('aria-pressed', String(annotationsShown));
    root.dataset.annotationsVisible = String(annotationsShown);
  },
  keyImage: () => keyImage(),
  help: () => toggleHelp(),
  exportAnnotations: () => exportAnnotations(),
};

function jumpTo(index) {
  const entry = grid.active;
  const viewport = grid.viewport(entry);
  if (!entry?.series) return;
  const target = Math.max(0, Math.min(entry.series.imageIds.length - 1, index));
  csUtils.jumpToSlice(viewport.element, { imageIndex: target });
}

function finishDrawing() {
  for (const name of ['VertebralHeartScore', 'NorbergAngle', 'TibialPlateauAngle', 'Calibration']) {
    toolGroup.getToolInstance(name)?.finish();
  }
}

function toggleHelp(open) {
  const help = $('[data-help]');
  const show = open ?? help.hidden;
  help.hidden = !show;
  $('[data-action="help"]').setAttribute('aria-expanded', String(show));
}

function choose(toolName) {
  finishDrawing();
  setPrimaryTool(toolGroup, toolName);
  root.querySelectorAll('[data-tool]').forEach((button) => {
    button.setAttribute('aria-pressed', String(button.dataset.tool === toolName));
  });
  root.dataset.tool = toolName;
}

function setLayout(layout) {
  const cells = grid.setLayout(layout);
  root.dataset.layout = layout;
  root.querySelectorAll('[data-layout-choice]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.layoutChoice === layout)));
  // Empty viewports take the next series not shown yet.
  const shown = new Set(cells.map((c) => c.series?.uid).filter(Boolean));
  const waiting = config.series.filter((s) => !shown.has(s.uid));
  for (const entry of cells) {
    if (!entry.series && waiting.length) showSeries(entry, waiting.shift().uid);
  }
}

// Toolbar, strip, keys -----------------------------------------------------------------------

root.querySelector('[data-toolbar]').addEventListener('click', (event) => {
  const button = event.target.closest('button');
  if (!button) return;
  if (button.dataset.tool) choose(button.dataset.tool);
  else if (button.dataset.layoutChoice) setLayout(button.dataset.layoutChoice);
  else if (button.dataset.action && actions[button.dataset.action]) actions[button.dataset.action]();
});
// Absent when the page has no export URL (a share): saving into the study is the clinic's.
$('[data-action="exportAnnotations"]')?.addEventListener('click', () => exportAnnotations());
$('[data-help] [data-action="help"]').addEventListener('click', () => toggleHelp(false));
// Print (print.js): what each viewport shows, the active one first.
installPrint({
  root,
  config,
  shownImages: () => [grid.active, ...grid.cells.filter((cell) => cell !== grid.active)]
    .map((entry) => {
      const viewport = entry?.series && grid.viewport(entry);
      return viewport && printedImage(viewport, imageInfo.get(viewport.getCurrentImageId()));
    })
    .filter(Boolean),
});

const strip = $('[data-series-strip]');
strip.addEventListener('click', (event) => {
  const tile = event.target.closest('.series-tile');
  if (tile) showSeries(grid.active, tile.dataset.seriesUid);
});
strip.addEventListener('dragstart', (event) => {
  const tile = event.target.closest('.series-tile');
  if (!tile) return;
  event.dataTransfer.setData('application/x-series-uid', tile.dataset.seriesUid);
  event.dataTransfer.setData('text/plain', tile.dataset.seriesUid);
  event.dataTransfer.effectAllowed = 'copy';
});

renderHelp($('[data-shortcut-list]'));
bindKeys((shortcut) => {
  if (shortcut.tool) choose(shortcut.tool);
  else if (shortcut.layout) setLayout(shortcut.layout);
  else if (actions[shortcut.action]) actions[shortcut.action]();
});
window.addEventListener('resize', () => renderingEngine.resize(true, true));

// Annotations --------------------------------------------------------------------------------

function imageIdFor(sopInstanceUid, frame) {
  for (const [imageId, info] of imageInfo) {
    if (info.sopInstanceUid === sopInstanceUid && info.frame === (frame || 1)) return imageId;
  }
  return null;
}

function applyCalibrationAnnotation(item) {
  if (item.tool !== 'calibration' || !item.geometry?.known_mm) return;
  const imageId = imageIdFor(item.sop_instance_uid, item.frame);
  const info = imageId && imageInfo.get(imageId);
  if (!info) return;
  try {
    manualCalibration.set(item.sop_instance_uid, calibrationManual(item.geometry.points, Number(item.geometry.known_mm), info.headerCalibration));
  } catch { /* a zero-length line calibrates nothing */ }
}

function placeSavedAnnotations(series) {
  const element = grid.active?.element || grid.cells[0]?.element;
  for (const item of saved) {
    if (item.series_instance_uid && item.series_instance_uid !== series.uid) continue;
    const imageId = imageIdFor(item.sop_instance_uid, item.frame);
    if (!imageId || list.byId(item.id)?.annotationUID) continue;
    applyCalibrationAnnotation(item);
    const annotation = addSaved(item, imageId, element);
    if (annotation) {
      list.attach(item.id, annotation.annotationUID, imageId);
      if (!annotationsShown) annotationApi.visibility.setAnnotationVisibility(annotation.annotationUID, false);
    }
  }
  toolUtilities.triggerAnnotationRenderForViewportIds(grid.cells.map((c) => c.id));
}

async function loadAnnotations() {
  try {
    const answer = await api.list();
    saved = Array.isArray(answer) ? answer : answer?.results || [];
    list.setSaved(saved);
    for (const promise of seriesCache.values()) promise.then(placeSavedAnnotations).catch(() => {});
    root.dataset.annotationsLoaded = 'true';
  } catch (error) {
    root.dataset.annotationsLoaded = error.status === 404 ? 'unavailable' : 'error';
    if (error.status !== 404) say(`Annotations could not be loaded: ${error.message}`, 'error');
  }
}

async function saveAnnotation(annotation) {
  const contract = toContract(annotation);
  const imageId = annotation.metadata.referencedImageId;
  const info = imageInfo.get(imageId);
  if (!contract || !info) return;
  const entry = list.upsertLive(annotation, contract, liveValues(annotation), imageId);
  entry.state = 'saving';
  list.render();
  try {
    let result;
    if (entry.saved?.id) {
      result = await api.update(entry.saved.id, { geometry: contract.geometry, text: contract.text });
    } else {
      result = await api.create({
        sop_instance_uid: info.sopInstanceUid, frame: info.frame, tool: contract.tool,
        geometry: contract.geometry, text: contract.text,
      });
    }
    list.markSaved(annotation.annotationUID, result);
    if (result.tool === 'calibration') {
      applyCalibrationAnnotation(result);
      refreshAll();
    }
  } catch (error) {
    list.markError(annotation.annotationUID, error.message);
  }
  refreshAll();
}

async function deleteAnnotation(item) {
  if (!(await ask(root, 'Delete this annotation?', { confirm: true, ok: 'Delete' }))) return;
  try {
    if (item.saved?.id) await api.remove(item.saved.id);
    if (item.saved?.tool === 'calibration') {
      manualCalibration.delete(item.saved.sop_instance_uid);
    }
    if (item.annotationUID) removeFromView(item.annotationUID);
    list.remove(item);
    refreshAll();
  } catch (error) {
    say(error.status === 403 ? 'Only the author can delete this annotation.' : error.message, 'error');
  }
}

async function goTo(item) {
  const seriesUid = item.saved?.series_instance_uid || imageInfo.get(item.imageId)?.seriesUid;
  if (!seriesUid) return;
  const series = await getSeries(seriesUid);
  const imageId = item.imageId || imageIdFor(item.saved.sop_instance_uid, item.saved.frame);
  const index = Math.max(0, series.imageIds.indexOf(imageId));
  const entry = grid.active;
  if (entry.series?.uid !== seriesUid) await showSeries(entry, seriesUid, index);
  else jumpTo(index);
}

function refreshAll() {
  for (const annotation of annotationApi.state.getAllAnnotations()) annotation.invalidated = true;
  toolUtilities.triggerAnnotationRenderForViewportIds(grid.cells.map((c) => c.id));
  grid.cells.forEach((entry) => updateOverlay(entry));
  list.refreshLive((uid) => {
    const annotation = annotationApi.state.getAnnotation(uid);
    return annotation ? liveValues(annotation) : null;
  });
}

const editTimers = new Map();
eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, async (event) => {
  const { annotation } = event.detail;
  if (annotation.metadata.toolName === 'Calibration' && annotation.data.knownMm == null) {
    const knownMm = await ask(root, 'Known length of this line, in mm', {
      value: '25', number: true, hint: 'For example 25 for a 25 mm calibration ball.',
    });
    if (!(knownMm > 0)) {
      removeFromView(annotation.annotationUID);
      return;
    }
    annotation.data.knownMm = knownMm;
  }
  saveAnnotation(annotation);
});
eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_MODIFIED, (event) => {
  const { annotation, changeType } = event.detail;
  // Recomputed statistics are not edits; moved handles and changed text are.
  if (changeType && changeType !== 'HandlesUpdated' && changeType !== 'LabelChange') return;
  const entry = list.byUid(annotation.annotationUID);
  if (!entry) return; // still being drawn: completion saves it
  list.updateLive(annotation.annotationUID, liveValues(annotation));
  clearTimeout(editTimers.get(annotation.annotationUID));
  editTimers.set(annotation.annotationUID, setTimeout(() => saveAnnotation(annotation), 700));
});

async function exportAnnotations() {
  if (!config.api.export) return;
  say('Saving the annotations into the study…');
  try {
    await api.exportToStudy();
    say('Annotations saved into the study as a presentation state; sending the study sends them too.');
  } catch (error) {
    say(error.status === 404 || error.status === 405 ? 'Saving annotations into the study is not available on this portal yet.' : error.message, 'error');
  }
}

async function keyImage() {
  if (!config.api.key_images) return;
  const viewport = grid.viewport();
  const info = imageInfo.get(viewport?.getCurrentImageId?.());
  if (!info) return;
  try {
    await api.keyImage({ sop_instance_uid: info.sopInstanceUid, frame: info.frame });
    say('Added to the draft report as a key image.');
  } catch (error) {
    if (error.status === 404 || error.status === 405) {
      root.querySelectorAll('[data-key-image]').forEach((b) => { b.hidden = true; });
      say('Key images are not available on this portal yet.', 'warn');
    } else {
      say(error.message, 'error');
    }
  }
}

// Start --------------------------------------------------------------------------------------

grid.setLayout('1x1');
choose('WindowLevel');
const annotationsLoaded = loadAnnotations();
if (config.series.length) {
  await showSeries(grid.cells[0], config.series[0].uid);
} else {
  root.dataset.state = 'empty';
}
await annotationsLoaded;

/** A small, deliberate surface for tests and benchmarks. */
window.portalViewer = {
  timings,
  grid,
  /** Page coordinates of image pixel [column, row] in viewport `index` (default: active). */
  imageToPage(column, row, index = grid.activeIndex) {
    const entry = grid.cells[index];
    const viewport = grid.viewport(entry);
    const world = csUtils.imageToWorldCoords(viewport.getCurrentImageId(), [column, row]);
    const [x, y] = viewport.worldToCanvas(world);
    const rect = entry.element.getBoundingClientRect();
    return { x: rect.left + x, y: rect.top + y };
  },
  currentImage(index = grid.activeIndex) {
    const viewport = grid.viewport(grid.cells[index]);
    const imageId = viewport?.getCurrentImageId();
    return { imageId, index: viewport?.getCurrentImageIdIndex(), ...imageInfo.get(imageId), calibration: calibrationFor(imageId) };
  },
  isCalibrated: (imageId) => isCalibrated(calibrationFor(imageId)),
  /** Whether the saved annotation `id` is on an image and locked against editing. */
  isLocked: (id) => Boolean(annotationApi.state.getAnnotation(`saved-${id}`)?.isLocked),
  /** How many images of the active viewport's series are decoded in the cache. */
  cachedImages(index = grid.activeIndex) {
    const series = grid.cells[index]?.series;
    return series ? series.imageIds.filter((id) => cache.isLoaded(id)).length : 0;
  },
  /** Steps through the whole stack, one image per rendered frame: [mean, max] ms per step. */
  async measureScroll(index = grid.activeIndex) {
    const entry = grid.cells[index];
    const viewport = grid.viewport(entry);
    const steps = [];
    const shown = viewport.getCurrentImageIdIndex();
    for (let i = 0; i < entry.series.imageIds.length; i += 1) {
      if (i === shown) continue; // already on screen: nothing new to render
      const started = performance.now();
      const rendered = new Promise((resolve) => entry.element.addEventListener('CORNERSTONE_IMAGE_RENDERED', resolve, { once: true }));
      await viewport.setImageIdIndex(i);
      await rendered;
      steps.push(performance.now() - started);
    }
    return [steps.reduce((a, b) => a + b, 0) / steps.length, Math.max(...steps)];
  },
  /** Window changes as a drag makes them: [mean, max] ms from setting to rendered. */
  async measureWindowLevel(count = 50, index = grid.activeIndex) {
    const entry = grid.cells[index];
    const viewport = grid.viewport(entry);
    const times = [];
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      const rendered = new Promise((resolve) => entry.element.addEventListener('CORNERSTONE_IMAGE_RENDERED', resolve, { once: true }));
      viewport.setProperties({ voiRange: { lower: -200 - i * 10, upper: 400 + i * 10 } });
      viewport.render();
      await rendered;
      times.push(performance.now() - started);
    }
    return [times.reduce((a, b) => a + b, 0) / times.length, Math.max(...times)];
  },
  showSeries: (uid, index = 0) => showSeries(grid.active, uid, index),
  setLayout,
  choose,
};
root.dataset.viewerReady = 'true';
