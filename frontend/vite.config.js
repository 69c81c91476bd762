// Builds the diagnostic viewer into static/frontend/dist/ with a manifest that Django reads
// (frontend/viewer.py) to include the entry script and its stylesheet.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'viewer',
  // Relative URLs: chunks, the decoding worker and WASM codecs resolve next to the entry,
  // wherever STATIC_URL puts it.
  base: './',
  publicDir: false,
  build: {
    outDir: '../static/frontend/dist',
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { viewer: 'viewer/main.js' },
    },
  },
  // The image loader starts its decoder as an ES module worker that imports codecs on demand.
  worker: { format: 'es' },
  optimizeDeps: {
    exclude: [
      '@cornerstonejs/dicom-image-loader',
      '@cornerstonejs/codec-charls',
      '@cornerstonejs/codec-libjpeg-turbo-8bit',
      '@cornerstonejs/codec-openjpeg',
      '@cornerstonejs/codec-openjph',
      '@cornerstonejs/codec-libjxl',
    ],
    include: ['dicom-parser'],
  },
});
