/**
 * One paged, filtered, sortable list whose state lives in the URL (issue 20: filters, page, size and sort survive
 * Back and a shared link). Every list page of the console uses it; records, paged by cursor, have their own.
 *
 * The URL is the source of truth: a change (search, page, size, sort) writes the query with `router.replace`, and
 * the list loads what the URL says — when it is set up, and when the query changes under a mounted list (a menu click, Back
 * within the page). The console keys pages by `route.fullPath`, so a replace usually mounts a new instance, which
 * then reads the query; a watcher with `flush: 'post'` covers a page that stays mounted (a stopped watcher never
 * runs, so a replaced instance does not load too). Values the URL holds that the list cannot use (a page of
 * letters, a size it does not offer, a sort field the server does not allow) fall back to the defaults.
 */
import { computed, onScopeDispose, reactive, ref, shallowRef, watch, type Ref } from 'vue'
import { useRoute, useRouter, type LocationQuery, type LocationQueryRaw } from 'vue-router'
import type { Page } from '@/api/types'
import { errorText } from '@/utils/feedback'

/** How a filter is read from the URL (invalid or missing: its default) and written to it (undefined: left out). */
export interface QueryCodec<V> {
  parse(raw: string | undefined): V
  format(value: V): string | undefined
}

const POSITIVE = /^\d{1,15}$/

/** Codecs of the filter kinds the lists have. */
export const filterCodecs = {
  /** Free text (a keyword): trimmed, at most `max` characters; '' is no filter. */
  text(max = 100): QueryCodec<string> {
    return {
      parse: (raw) => (raw ?? '').slice(0, max),
      // A cleared select gives undefined, whatever its type says.
      format: (value) => (value ?? '').trim() || undefined,
    }
  },
  /** A row id (a department, a task): a positive integer. */
  id(): QueryCodec<number | undefined> {
    return {
      parse: (raw) => (raw !== undefined && POSITIVE.test(raw) && Number(raw) > 0 ? Number(raw) : undefined),
      format: (value) => (value === undefined || value === null ? undefined : String(value)),
    }
  },
  /** One of a fixed set (a status, a kind); numbers compare by their text. */
  oneOf<T extends string | number>(allowed: readonly T[]): QueryCodec<T | undefined> {
    return {
      parse: (raw) => allowed.find((value) => String(value) === raw),
      format: (value) => (value === undefined || value === null || (value as unknown) === '' ? undefined : String(value)),
    }
  },
  /** An instant (a range end), as ISO-8601 text. */
  dateTime(): QueryCodec<string | undefined> {
    return {
      parse: (raw) => (raw !== undefined && raw.length <= 40 && /^\d{4}-\d{2}-\d{2}T/.test(raw) && !Number.isNaN(Date.parse(raw)) ? raw : undefined),
      format: (value) => value || undefined,
    }
  },
}

export type FilterCodecs<F> = { [K in keyof F]: QueryCodec<F[K]> }

/** What a list asks the API for: the page, its size, the sort (`name`, `-name`; absent: the list's default). */
export interface PageParams {
  page: number
  size: number
  sort?: string
}

/** `el-table`'s view of a sort (`default-sort`, `sort-change`). */
export interface TableSort {
  prop: string
  order: 'ascending' | 'descending' | null
}

export interface PagedListOptions<T, F extends object> {
  /** Asks the API for one page with the applied filters. */
  fetch(params: PageParams, filters: F): Promise<Page<T>>
  /** Each filter's codec; its default is what `parse(undefined)` gives. */
  filters: FilterCodecs<F>
  /** The fields the server sorts this list by (its allow-list); none: not sortable. */
  sorts?: readonly string[]
  /** Page sizes offered; the first one unless `size` says otherwise is the default. */
  sizes?: readonly number[]
  size?: number
  /** Query keys that go away once the list writes its URL (one-shot keys such as `create=1`). */
  drop?: readonly string[]
  /** Load on mount (default true). */
  immediate?: boolean
}

export const PAGE_SIZES: readonly number[] = [10, 20, 50, 100]

/** How long a load runs before the list masks its rows with a spinner (`spinner`). */
export const SPINNER_DELAY_MS = 300

function first(value: LocationQuery[string] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** The list's state as read from a URL query. */
export interface ListState<F> {
  page: number
  size: number
  sort: string
  filters: F
}

/** Reads a query (pure: exported for tests). */
export function readListQuery<F extends object>(query: LocationQuery, codecs: FilterCodecs<F>, opts: {
  sorts?: readonly string[]; sizes?: readonly number[]; size?: number
} = {}): ListState<F> {
  const sizes = opts.sizes ?? PAGE_SIZES
  const defaultSize = opts.size ?? sizes[0] ?? 10
  const rawPage = first(query.page)
  const rawSize = first(query.size)
  const rawSort = first(query.sort)
  const size = rawSize !== undefined && POSITIVE.test(rawSize) && sizes.includes(Number(rawSize)) ? Number(rawSize) : defaultSize
  const page = rawPage !== undefined && POSITIVE.test(rawPage) && Number(rawPage) >= 1 && Number(rawPage) <= 1_000_000 ? Number(rawPage) : 1
  const field = rawSort?.startsWith('-') ? rawSort.slice(1) : rawSort
  const sort = rawSort !== undefined && field !== undefined && (opts.sorts ?? []).includes(field) ? rawSort : ''
  const filters = {} as F
  for (const key of Object.keys(codecs) as (keyof F)[]) filters[key] = codecs[key].parse(first(query[key as string]))
  return { page, size, sort, filters }
}

/** Writes a state as query keys: only what differs from the defaults. */
export function writeListQuery<F extends object>(state: ListState<F>, codecs: FilterCodecs<F>, defaultSize: number): Record<string, string> {
  const query: Record<string, string> = {}
  for (const key of Object.keys(codecs) as (keyof F)[]) {
    const text = codecs[key].format(state.filters[key])
    if (text !== undefined) query[key as string] = text
  }
  if (state.sort) query.sort = state.sort
  if (state.page !== 1) query.page = String(state.page)
  if (state.size !== defaultSize) query.size = String(state.size)
  return query
}

export function usePagedList<T, F extends object>(options: PagedListOptions<T, F>) {
  const route = useRoute()
  const router = useRouter()
  const routeName = route.name
  const sizes = options.sizes ?? PAGE_SIZES
  const defaultSize = options.size ?? sizes[0] ?? 10
  const codecs = options.filters
  const ownKeys = ['page', 'size', 'sort', ...Object.keys(codecs)]
  const readOpts = { sorts: options.sorts, sizes, size: defaultSize }

  const initial = readListQuery(route.query, codecs, readOpts)
  /** The filter inputs (applied by `search`). */
  const filters = reactive({ ...initial.filters }) as F
  /** The filters of the rows shown (what the URL says). */
  let applied: F = { ...initial.filters }
  const page = ref(initial.page)
  const size = ref(initial.size)
  /** `field`, `-field` or '' (the list's default order). */
  const sort = ref(initial.sort)
  const total = ref(0)
  const rows = shallowRef<T[]>([]) as Ref<T[]>
  const loading = ref(false)
  /** Why the list could not be loaded (shown with Retry instead of "No Data"); null when it was. */
  const error = ref<string | null>(null)
  /** For `el-table`'s `default-sort`. */
  const tableSort = computed<TableSort | undefined>(() => sort.value
    ? { prop: sort.value.replace(/^-/, ''), order: sort.value.startsWith('-') ? 'descending' : 'ascending' }
    : undefined)

  let generation = 0

  function state(): ListState<F> {
    return { page: page.value, size: size.value, sort: sort.value, filters: applied }
  }

  function ownOf(query: LocationQuery): Record<string, string> {
    const out: Record<string, string> = {}
    for (const key of ownKeys) {
      const value = first(query[key])
      if (value !== undefined) out[key] = value
    }
    return out
  }

  const same = (a: Record<string, string>, b: Record<string, string>) => ownKeys.every((key) => a[key] === b[key])

  /** The query of the state last loaded: a route change to it is the list's own, to anything else a navigation. */
  let requested: Record<string, string> | null = null

  /** Loads the page the state says (no URL change): a refresh, Retry, or after a write. */
  async function load(): Promise<void> {
    const mine = ++generation
    requested = writeListQuery(state(), codecs, defaultSize)
    loading.value = true
    error.value = null
    try {
      const result = await options.fetch({ page: page.value, size: size.value, sort: sort.value || undefined }, applied)
      if (mine !== generation) return
      // A page past the end (the last row of the last page was deleted, an old link): the last page instead.
      if (result.list.length === 0 && result.total > 0 && page.value > 1) {
        page.value = Math.max(1, Math.ceil(result.total / size.value))
        commit()
        return
      }
      rows.value = result.list
      total.value = result.total
    } catch (err) {
      if (mine !== generation) return
      rows.value = []
      total.value = 0
      error.value = errorText(err)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** Puts the state in the URL; the list then loads what the URL says (here when it already says it). */
  function commit(): Promise<void> {
    const target = writeListQuery(state(), codecs, defaultSize)
    if (same(target, ownOf(route.query))) return load()
    const drop = new Set([...ownKeys, ...(options.drop ?? [])])
    const others = Object.fromEntries(Object.entries(route.query).filter(([key]) => !drop.has(key)))
    const query: LocationQueryRaw = { ...others, ...target }
    loading.value = true
    return router.replace({ query }).then((failure) => {
      if (failure) loading.value = false
    }, () => {
      loading.value = false
    })
  }

  /** Applies the filter inputs, from the first page. */
  function search(): Promise<void> {
    applied = { ...filters }
    page.value = 1
    return commit()
  }

  /** Back to the default filters (the sort and size stay). */
  function reset(): Promise<void> {
    Object.assign(filters, readListQuery({}, codecs, readOpts).filters)
    return search()
  }

  function setPage(value: number): Promise<void> {
    page.value = value
    return commit()
  }

  function setSize(value: number): Promise<void> {
    size.value = value
    page.value = 1
    return commit()
  }

  /** `el-table`'s `sort-change`: the column's `prop` is the API's sort field. */
  function onSortChange({ prop, order }: { prop: string | null; order: 'ascending' | 'descending' | null }): Promise<void> {
    sort.value = prop && order && (options.sorts ?? []).includes(prop) ? `${order === 'descending' ? '-' : ''}${prop}` : ''
    page.value = 1
    return commit()
  }

  // The query changed under a mounted list (its own replace, a menu click, Back): show what it says.
  watch(
    () => route.query,
    (query) => {
      if (route.name !== routeName || (requested !== null && same(ownOf(query), requested))) return
      const next = readListQuery(query, codecs, readOpts)
      Object.assign(filters, next.filters)
      applied = { ...next.filters }
      page.value = next.page
      size.value = next.size
      sort.value = next.sort
      void load()
    },
    { flush: 'post' },
  )

  // The mask over the rows: only once a load has taken SPINNER_DELAY_MS, so a quick load does not flash one (nor
  // does a cold page build one while its first rows are already on the way: issue 20).
  const spinner = ref(false)
  let spinnerTimer: ReturnType<typeof setTimeout> | undefined
  watch(loading, (busy) => {
    clearTimeout(spinnerTimer)
    if (busy) spinnerTimer = setTimeout(() => (spinner.value = true), SPINNER_DELAY_MS)
    else spinner.value = false
  }, { immediate: true })
  onScopeDispose(() => clearTimeout(spinnerTimer))

  // The first page is asked for while the page is still being set up, not once it has mounted: the request and
  // the mount (a few hundred milliseconds of a cold load, issue 20) then overlap instead of following each other.
  if (options.immediate !== false) void load()

  return {
    filters, page, size, sizes, sort, tableSort, total, rows, loading, spinner, error,
    load, retry: load, search, reset, setPage, setSize, onSortChange,
  }
}
