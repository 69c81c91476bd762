// The first frame the page fetched before this script ran (viewer-prefetch.js), handed to the
// image loader through its compressed-frame registry, so the first image is decoded from bytes
// already here instead of being asked for again.
import { metaData } from '@cornerstonejs/core';

const COMPRESSED_FRAME_DATA = 'compressedFrameData';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function indexOf(bytes, pattern, from = 0) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i += 1) {
    for (let j = 0; j < pattern.length; j += 1) {
      if (bytes[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function lastIndexOf(bytes, pattern) {
  outer: for (let i = bytes.length - pattern.length; i >= 0; i -= 1) {
    for (let j = 0; j < pattern.length; j += 1) {
      if (bytes[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

const parameter = (text, name) => (text.match(new RegExp(`${name}="?([^";]+)"?`, 'i')) || [])[1];

/** The one part of a multipart/related answer (PS3.18 8.6.1) and its transfer syntax. */
export function singlePart(contentType, buffer) {
  const bytes = new Uint8Array(buffer);
  const boundary = parameter(contentType, 'boundary');
  if (!boundary) return null;
  const start = indexOf(bytes, encoder.encode(`--${boundary}`));
  const headersEnd = start < 0 ? -1 : indexOf(bytes, encoder.encode('\r\n\r\n'), start);
  const end = lastIndexOf(bytes, encoder.encode(`\r\n--${boundary}`));
  if (headersEnd < 0 || end <= headersEnd) return null;
  const headers = decoder.decode(bytes.subarray(start, headersEnd));
  const transferSyntaxUid = parameter(headers, 'transfer-syntax') || parameter(contentType, 'transfer-syntax');
  if (!transferSyntaxUid) return null;
  return { pixelData: bytes.subarray(headersEnd + 4, end), transferSyntaxUid };
}

/** Waits for the page's early frame (if it is one of `imageIds`) and offers it to the loader once. */
export async function offerEarlyFrame(imageIds) {
  const early = window.portalViewerFrame;
  if (!early) return;
  const imageId = `wadors:${new URL(early.url, window.location.href).href}`;
  if (!imageIds.includes(imageId)) return;
  window.portalViewerFrame = null;
  const answer = await early.response.catch(() => null);
  const frame = answer && singlePart(answer.contentType, answer.bytes);
  if (!frame) return; // the loader asks the portal itself
  let offered = frame;
  metaData.addProvider((type, query) => {
    if (type !== COMPRESSED_FRAME_DATA || query !== imageId || !offered) return undefined;
    const once = offered;
    offered = null; // kept by the image cache from here on
    return once;
  }, 10000);
}
