import { ref, watch, type Ref } from 'vue'

/**
 * True from the first time `source` is true on: a dialog rendered with `v-if="used"` (and loaded with
 * `defineAsyncComponent`) costs its page nothing until it is first opened, then stays mounted so it can close
 * with its animation and keep its state (issue 20: what a cold page's first rows wait for).
 */
export function firstUse(source: () => boolean): Readonly<Ref<boolean>> {
  const used = ref(false)
  const stop = watch(source, (on) => {
    if (!on) return
    used.value = true
    queueMicrotask(() => stop())
  }, { immediate: true })
  return used
}
