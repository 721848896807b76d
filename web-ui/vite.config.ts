/// <reference types="vitest/config" />
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { gzipSync } from 'node:zlib'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { defineConfig, type Plugin } from 'vite'

/**
 * Writes `<file>.gz` next to every text asset of the build; Django (djs_platform/web.py) sends it to
 * clients that accept gzip, so the platform needs no compressing proxy and no per-request compression.
 */
function precompress(): Plugin {
  let outDir = 'dist'
  return {
    name: 'djs-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name)
          return statSync(path).isDirectory() ? walk(path) : [path]
        })
      for (const file of walk(outDir)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue
        const data = readFileSync(file)
        if (data.length < 1024) continue
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }))
      }
    },
  }
}

// The Django platform the dev server proxies the API to (`make run` listens on :9088).
const apiTarget = process.env.DJS_API_TARGET ?? 'http://127.0.0.1:9088'

export default defineConfig({
  // Django serves the built console at /v1/web/ (djs_platform/web.py); history-mode routes live below it.
  base: '/v1/web/',
  plugins: [
    vue(),
    precompress(),
    // Element Plus on demand: each component (and its CSS) is imported where a template uses it, so
    // the initial download carries only what the login page and the shell need.
    Components({
      dts: false,
      dirs: [],
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
    }),
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    // vue-i18n esm-bundler feature flags: Composition API only, no devtools in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  server: {
    port: 5173,
    // Everything under /v1 except the console itself goes to the platform.
    proxy: {
      '^/v1/(?!web(/|$))': { target: apiTarget, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // dist/.vite/manifest.json: the chunk graph scripts/report-size.mjs measures the first visit with.
    manifest: true,
    chunkSizeWarningLimit: 700,
    // One stylesheet for the whole console (276 KiB, 38 KiB gzip), linked from index.html and loaded beside the
    // entry, instead of a CSS file per chunk that each page's chunks wait for: a signed-in page's first paint
    // needed 17 of them after the language and the user (issue 20). Measured side by side (bench/console.py,
    // 13 cold loads each in turns): sign-in form 485 -> 404 ms, tasks page first rows 850 -> 799 ms.
    cssCodeSplit: false,
    rolldownOptions: {
      output: {
        // Shared chunks of Element Plus components are named after their first module (".../style/css");
        // call them "ui-*" so the size report reads sensibly.
        chunkFileNames: (chunk) => `assets/${chunk.name === 'css' ? 'ui' : chunk.name}-[hash].js`,
        assetFileNames: (asset) =>
          (asset.names?.[0] ?? '').startsWith('css') ? 'assets/ui-[hash][extname]' : 'assets/[name]-[hash][extname]',
        codeSplitting: {
          groups: [
            // The framework every page needs, cached across releases of the console's own code.
            { name: 'vendor', test: /node_modules[\\/](@vue|vue|vue-router|pinia|vue-i18n|@intlify)[\\/]/, priority: 10 },
          ],
        },
      },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/__tests__/**/*.spec.ts'],
    restoreMocks: true,
    unstubGlobals: true,
    // Element Plus modules import their CSS: let Vite transform them (Node cannot import .css) for the
    // tests that mount components using them.
    server: { deps: { inline: ['element-plus'] } },
  },
})
