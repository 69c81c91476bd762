// The data path: one WADO-RS metadata request per series, its instances sorted into a stack of
// `wadors:` image IDs whose metadata the image loader gets from memory (no request per image).
import { wadors } from '@cornerstonejs/dicom-image-loader';
import { calibrationFromHeader } from './measurements.js';
import { offerEarlyFrame } from './earlyFrame.js';

const tag = (instance, key) => instance[key]?.Value;
const first = (instance, key) => tag(instance, key)?.[0];
const numbers = (instance, key) => (tag(instance, key) || []).map(Number).filter(Number.isFinite);

function sortKey(instance) {
  const position = numbers(instance, '00200032');
  const orientation = numbers(instance, '00200037');
  let along = 0;
  if (position.length === 3 && orientation.length === 6) {
    const [a, b, c, d, e, f] = orientation;
    const normal = [b * f - c * e, c * d - a * f, a * e - b * d];
    along = position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2];
  }
  return [Number(first(instance, '00200013') ?? 0), along];
}

/** The recorded playback rate of a multi-frame image, in frames per second. */
export function frameRate(instance) {
  const recommended = Number(first(instance, '00082144'));
  if (recommended > 0) return recommended;
  const cine = Number(first(instance, '00180040'));
  if (cine > 0) return cine;
  const frameTime = Number(first(instance, '00181063'));
  if (frameTime > 0) return 1000 / frameTime;
  return 0;
}

/** The windows the file itself suggests (Window Center / Width, with their explanations). */
function fileWindows(instance) {
  const centers = numbers(instance, '00281050');
  const widths = numbers(instance, '00281051');
  const names = tag(instance, '00281055') || [];
  return centers.map((center, i) => ({
    label: names[i] ? `File: ${names[i]}` : `File window ${i + 1}`,
    center,
    width: widths[i] ?? widths[0],
  })).filter((w) => w.width > 0);
}

export async function loadSeries({ dicomwebRoot, studyUid, seriesUid }) {
  const url = `${dicomwebRoot}/studies/${studyUid}/series/${seriesUid}/metadata`;
  // The page may already have asked for the first series (see viewer.html).
  const early = window.portalViewerPrefetch;
  let response;
  if (early && early.url === url) {
    window.portalViewerPrefetch = null;
    response = await early.response.catch(() => null);
  }
  if (!response || !response.ok) {
    response = await fetch(url, { headers: { Accept: 'application/dicom+json' }, credentials: 'same-origin' });
  }
  if (!response.ok) throw new Error(`The series could not be loaded (${response.status}).`);
  const instances = await response.json();
  instances.sort((a, b) => {
    const [na, pa] = sortKey(a);
    const [nb, pb] = sortKey(b);
    return na - nb || pa - pb;
  });
  const base = new URL(dicomwebRoot, window.location.href).href.replace(/\/$/, '');
  const imageIds = [];
  const images = new Map(); // imageId → { sopInstanceUid, frame, calibration, ... }
  let rate = 0;
  for (const instance of instances) {
    const sop = first(instance, '00080018');
    const frames = Number(first(instance, '00280008') || 1);
    const prefix = `wadors:${base}/studies/${studyUid}/series/${seriesUid}/instances/${sop}/frames/`;
    // Frame 1 carries the metadata; the loader derives the other frames' from it.
    wadors.metaDataManager.add(`${prefix}1`, instance);
    const calibration = calibrationFromHeader({
      pixelSpacing: numbers(instance, '00280030'),
      imagerPixelSpacing: numbers(instance, '00181164'),
      magnification: Number(first(instance, '00181114')) || undefined,
    });
    if (frames > 1) rate = rate || frameRate(instance);
    for (let frame = 1; frame <= frames; frame += 1) {
      const imageId = `${prefix}${frame}`;
      imageIds.push(imageId);
      images.set(imageId, {
        sopInstanceUid: sop,
        seriesInstanceUid: seriesUid,
        frame,
        frames,
        rows: Number(first(instance, '00280010')),
        columns: Number(first(instance, '00280011')),
        headerCalibration: calibration,
        windows: fileWindows(instance),
        slope: Number(first(instance, '00281053') ?? 1) || 1,
        intercept: Number(first(instance, '00281052') ?? 0) || 0,
      });
    }
  }
  await offerEarlyFrame(imageIds);
  const head = instances[0] || {};
  return {
    uid: seriesUid,
    modality: first(head, '00080060') || '',
    description: first(head, '0008103E') || '',
    number: first(head, '00200011'),
    imageIds,
    images,
    frameRate: rate,
    multiFrame: instances.length === 1 && imageIds.length > 1,
  };
}
