// Overlay text on each viewport and the calibration panel. Values are also put in data-*
// attributes so scripts and tests read them without parsing the text.
import { utilities as csUtils } from '@cornerstonejs/core';
import { isCalibrated } from './measurements.js';

const set = (overlay, key, text, data = {}) => {
  const node = overlay.querySelector(`[data-ov="${key}"]`);
  if (!node) return;
  node.textContent = text;
  for (const [name, value] of Object.entries(data)) node.dataset[name] = String(value);
};

function formatDate(iso) {
  if (!iso) return '';
  const date = new Date(`${iso}T00:00:00`);
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

export function calibrationText(calibration) {
  if (!calibration || !isCalibrated(calibration)) return 'Not calibrated — measurements in pixels';
  const mm = (v) => Math.round(v * 1000) / 1000;
  const spacing = calibration.rowMm === calibration.columnMm
    ? `${mm(calibration.rowMm)} mm/px` : `${mm(calibration.rowMm)} × ${mm(calibration.columnMm)} mm/px`;
  if (calibration.source === 'imager_pixel_spacing') return `${spacing}, ${calibration.note}`;
  if (calibration.source === 'manual') return `${spacing} (${calibration.note})`;
  return spacing;
}

export function renderOverlay(overlay, { patient, study, series, index, count, info, viewport, calibration }) {
  set(overlay, 'patient', patient.name);
  set(overlay, 'species', [patient.species, patient.breed].filter(Boolean).join(' · '));
  set(overlay, 'date', formatDate(study.date));
  set(overlay, 'series', series.label || '');
  const frameText = info && info.frames > 1 ? `Frame ${info.frame} / ${info.frames}` : `Image ${index + 1} / ${count}`;
  set(overlay, 'slice', frameText, { sliceIndex: index + 1, sliceCount: count });
  const { voiRange, invert } = viewport.getProperties();
  if (voiRange) {
    const { windowWidth, windowCenter } = csUtils.windowLevel.toWindowLevel(voiRange.lower, voiRange.upper);
    const w = Math.round(windowWidth);
    const l = Math.round(windowCenter);
    set(overlay, 'window', `W ${w} L ${l}${invert ? ' · inverted' : ''}`, { windowWidth: w, windowCenter: l });
  }
  const zoom = viewport.getZoom ? viewport.getZoom() : 1;
  const rotation = viewport.getViewPresentation?.().rotation || 0;
  const camera = viewport.getCamera();
  const flips = [camera.flipHorizontal ? 'flipped H' : '', camera.flipVertical ? 'flipped V' : ''].filter(Boolean);
  set(overlay, 'zoom', [`Zoom ${zoom.toFixed(2)}×`, rotation ? `${Math.round(rotation)}°` : '', ...flips].filter(Boolean).join(' · '), {
    zoom: zoom.toFixed(3), rotation: Math.round(rotation),
  });
  set(overlay, 'calibration', calibrationText(calibration), { calibrationSource: calibration?.source || 'none' });
}

export function renderCalibration(panel, calibration, onCalibrate) {
  panel.replaceChildren();
  if (!calibration) return;
  const p = document.createElement('p');
  p.className = `calibration calibration-${calibration.source}`;
  p.dataset.calibrationSource = calibration.source;
  p.textContent = calibrationText(calibration);
  panel.append(p);
  if (!isCalibrated(calibration) || calibration.source === 'imager_pixel_spacing') {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'wide';
    button.textContent = 'Calibrate with a known length…';
    button.title = 'Draw a line over something of known size (e.g. a 25 mm calibration ball) and type its length';
    button.addEventListener('click', onCalibrate);
    panel.append(button);
  }
}
