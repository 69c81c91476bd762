// Keyboard shortcuts, listed in the help popover from the same table that binds them.
export const SHORTCUTS = [
  { keys: ['w'], label: 'Window/level', tool: 'WindowLevel' },
  { keys: ['p'], label: 'Pan', tool: 'Pan' },
  { keys: ['z'], label: 'Zoom', tool: 'Zoom' },
  { keys: ['s'], label: 'Scroll tool', tool: 'StackScroll' },
  { keys: ['ArrowUp', 'ArrowLeft'], label: 'Previous image', action: 'previous' },
  { keys: ['ArrowDown', 'ArrowRight'], label: 'Next image', action: 'next' },
  { keys: ['PageUp'], label: '10 images back', action: 'previous10' },
  { keys: ['PageDown'], label: '10 images on', action: 'next10' },
  { keys: ['Home'], label: 'First image', action: 'first' },
  { keys: ['End'], label: 'Last image', action: 'last' },
  { keys: ['F1', '!'], label: 'Preset 1 (CT: soft tissue 40/400)', action: 'preset1' },
  { keys: ['F2', '@'], label: 'Preset 2 (CT: bone 300/1500)', action: 'preset2' },
  { keys: ['F3', '#'], label: 'Preset 3 (CT: lung −600/1500)', action: 'preset3' },
  { keys: ['F4', '$'], label: "The file's own window", action: 'preset4' },
  { keys: ['r'], label: 'Rotate 90°', action: 'rotate' },
  { keys: ['h'], label: 'Flip horizontal', action: 'flipH' },
  { keys: ['v'], label: 'Flip vertical', action: 'flipV' },
  { keys: ['i'], label: 'Invert', action: 'invert' },
  { keys: [' '], label: 'Play / stop cine', action: 'cine' },
  { keys: ['0'], label: 'Reset the view', action: 'reset' },
  { keys: ['1'], label: 'One viewport', layout: '1x1' },
  { keys: ['2'], label: 'Two viewports', layout: '1x2' },
  { keys: ['4'], label: 'Four viewports', layout: '2x2' },
  { keys: ['Tab'], label: 'Next viewport', action: 'nextViewport' },
  { keys: ['l'], label: 'Length', tool: 'Length' },
  { keys: ['a'], label: 'Angle', tool: 'Angle' },
  { keys: ['c'], label: 'Cobb angle', tool: 'CobbAngle' },
  { keys: ['t'], label: 'Arrow with text', tool: 'ArrowAnnotate' },
  { keys: ['e'], label: 'Ellipse ROI', tool: 'EllipticalROI' },
  { keys: ['q'], label: 'Rectangle ROI', tool: 'RectangleROI' },
  { keys: ['x'], label: 'Free text', tool: 'Label' },
  { keys: ['k'], label: 'Vertebral heart score', tool: 'VertebralHeartScore' },
  { keys: ['n'], label: 'Norberg angle', tool: 'NorbergAngle' },
  { keys: ['b'], label: 'Tibial plateau angle', tool: 'TibialPlateauAngle' },
  { keys: ['m'], label: 'Calibrate against a known length', tool: 'Calibration' },
  { keys: ['Enter'], label: 'Finish the drawing (VHS vertebrae)', action: 'finish' },
  { keys: ['Escape'], label: 'Cancel the drawing / close help', action: 'escape' },
  { keys: ['g'], label: 'Show / hide annotations', action: 'toggleAnnotations' },
  { keys: ['y'], label: 'Key image for the report', action: 'keyImage' },
  { keys: ['?'], label: 'This help', action: 'help' },
];

const KEY_LABELS = { ' ': 'Space', ArrowUp: '↑', ArrowDown: '↓', ArrowLeft: '←', ArrowRight: '→' };

export function renderHelp(list) {
  list.replaceChildren();
  for (const shortcut of SHORTCUTS) {
    const dt = document.createElement('dt');
    shortcut.keys.forEach((key, i) => {
      if (i) dt.append(' ');
      const kbd = document.createElement('kbd');
      kbd.textContent = KEY_LABELS[key] || (key.length === 1 ? key.toUpperCase() : key);
      dt.append(kbd);
    });
    const dd = document.createElement('dd');
    dd.textContent = shortcut.label;
    list.append(dt, dd);
  }
}

export function bindKeys(handler) {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const shortcut = SHORTCUTS.find((s) => s.keys.includes(key) || s.keys.includes(event.key));
    if (!shortcut) return;
    event.preventDefault();
    handler(shortcut);
  });
}
