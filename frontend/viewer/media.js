// Series that are not images for Cornerstone: a video plays in an HTML5 <video> and a PDF opens
// in the browser's own PDF viewer, both in the viewport's place, fed by the portal's URLs
// (the MP4 or PDF taken out of the DICOM file; the video with byte ranges for seeking).

/** Shows `series.media` in the viewport cell of `entry`; false when the series is plain images. */
export function showMedia(entry, series) {
  const media = series?.media;
  if (!media) {
    clearMedia(entry);
    return false;
  }
  clearMedia(entry);
  const box = document.createElement('div');
  box.className = 'viewport-media';
  box.dataset.media = media.kind;
  if (media.kind === 'video') {
    const video = document.createElement('video');
    video.src = media.url;
    video.controls = true;
    video.loop = true;
    video.muted = true; // browsers start muted playback without a gesture
    video.autoplay = true;
    video.playsInline = true; // a tablet plays it in place, not fullscreen
    video.preload = 'auto';
    video.setAttribute('aria-label', series.label || 'Video');
    video.addEventListener('error', () => {
      box.dataset.mediaState = 'error';
      note(box, 'This video cannot be played in this browser. Download it from the study page.');
    });
    video.addEventListener('playing', () => { box.dataset.mediaState = 'playing'; });
    box.append(video);
  } else {
    const frame = document.createElement('iframe');
    frame.src = media.url;
    frame.title = series.label || 'Document';
    box.append(frame);
    const link = document.createElement('a');
    link.href = media.url;
    link.target = '_blank';
    link.rel = 'noopener';
    link.className = 'viewport-media-open';
    link.textContent = 'Open the document in a new tab';
    box.append(link);
  }
  entry.cell.append(box);
  entry.cell.dataset.seriesUid = series.uid;
  entry.media = box;
  entry.overlay.hidden = true;
  return true;
}

/** Removes a video or document from the viewport cell, giving it back to the images. */
export function clearMedia(entry) {
  if (!entry?.media) return;
  const video = entry.media.querySelector('video');
  if (video) {
    video.pause();
    video.removeAttribute('src');
    video.load(); // releases the connection
  }
  entry.media.remove();
  entry.media = null;
  entry.overlay.hidden = false;
}

function note(box, text) {
  const line = document.createElement('p');
  line.className = 'viewport-media-note';
  line.textContent = text;
  box.append(line);
}
