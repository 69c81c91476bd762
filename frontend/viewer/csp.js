// Pages that embed the viewer may send a Content-Security-Policy without 'unsafe-inline' for
// styles (share pages do). Such a policy refuses style *attributes* (setAttribute('style', …),
// as Cornerstone's SVG text boxes do) but allows styles set through the CSSOM. So a style
// attribute is applied through `element.style.cssText`: the same style, and no violation.
const setAttribute = Element.prototype.setAttribute;

Element.prototype.setAttribute = function setAttributeCspSafe(name, value) {
  if (typeof name === 'string' && name.toLowerCase() === 'style' && this.style) {
    this.style.cssText = String(value);
    return undefined;
  }
  return setAttribute.call(this, name, value);
};
