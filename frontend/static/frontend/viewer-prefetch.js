// Starts reading the first series' metadata while the viewer's script loads and starts.
// A separate file (not inline) so pages with a strict Content-Security-Policy run it too.
(function () {
  var node = document.getElementById("viewer-config");
  if (!node || !window.fetch) return;
  var config = JSON.parse(node.textContent);
  var first = config.series[0];
  if (!first) return;
  var url = config.dicomweb + "/studies/" + config.study.uid + "/series/" + first.uid + "/metadata";
  window.portalViewerPrefetch = {url: url, response: fetch(url, {
    headers: {Accept: "application/dicom+json"}, credentials: "same-origin"})};
})();
