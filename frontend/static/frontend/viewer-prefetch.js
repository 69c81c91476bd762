// Runs before the viewer's script (a separate file, not inline, so pages with a strict
// Content-Security-Policy run it too):
// - starts reading the first series' metadata, and its first frame, while the viewer's script
//   loads and starts;
// - shows the first image as the portal renders it (JPEG, the file's own window), fitted into
//   the first viewport as the viewer will fit it, until the viewer's own diagnostic image
//   replaces it. Until then the viewer stays in its "loading" state: tools do nothing and the
//   preview says it is not the full image.
(function () {
  var node = document.getElementById("viewer-config");
  if (!node) return;
  var config = JSON.parse(node.textContent);
  var first = config.series[0];
  if (!first) return;
  if (window.fetch) {
    var url = config.dicomweb + "/studies/" + config.study.uid + "/series/" + first.uid + "/metadata";
    window.portalViewerPrefetch = {url: url, response: fetch(url, {
      headers: {Accept: "application/dicom+json"}, credentials: "same-origin"})};
  }
  // The first image's first frame too, as the viewer's image loader asks for it (as stored);
  // the viewer decodes these bytes instead of asking again (frontend/viewer/earlyFrame.js).
  if (window.fetch && config.preview && config.preview.frame) {
    window.portalViewerFrame = {url: config.preview.frame, response: fetch(config.preview.frame, {
      headers: {Accept: "multipart/related; type=application/octet-stream; transfer-syntax=*"},
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error("frame " + response.status);
      return response.arrayBuffer().then(function (bytes) {
        return {contentType: response.headers.get("Content-Type") || "", bytes: bytes};
      });
    })};
  }
  var root = document.getElementById("viewer");
  var preview = document.querySelector("[data-viewer-preview]");
  if (!config.preview || !root || !preview) return;
  var image = preview.querySelector("img");
  // The image sits inside the viewport cell's 2px border, like the viewer's canvas.
  var ratio = window.devicePixelRatio || 1;
  var width = Math.round(Math.max(preview.clientWidth, 64) * ratio);
  var height = Math.round(Math.max(preview.clientHeight, 64) * ratio);
  image.addEventListener("load", function () {
    var shown = function () {
      if (root.dataset.state !== "loading") return; // the diagnostic image came first
      preview.dataset.shown = "true";
      root.dataset.firstPictureMs = String(Math.round(performance.now()));
      root.dataset.preview = "shown";
    };
    if (image.decode) image.decode().then(shown, shown);
    else shown();
  });
  image.src = config.preview.rendered + "?viewport=" + width + "," + height;
})();
