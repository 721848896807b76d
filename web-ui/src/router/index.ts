import { createRouter, createWebHistory, type RouteLocationNormalized, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { hasPermission } from '@/utils/permission'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page title. */
    title?: string
    /** Reachable without signing in. */
    public?: boolean
    /** Permission code(s) the page needs (all of them); missing -> the forbidden page. */
    permission?: string | string[]
    /** 'any': one of the listed permissions is enough (default 'all'). */
    permissionMode?: 'all' | 'any'
  }
}

// Every page is its own lazily loaded chunk: the first download is the shell and the login page only.
export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/login/LoginView.vue'),
    meta: { public: true, title: 'login.title' },
  },
  {
    path: '/',
    component: () => import('@/layouts/MainLayout.vue'),
    children: [
      { path: '', redirect: { name: 'dashboard' } },
      {
        path: 'dashboard',
        name: 'dashboard',
        component: () => import('@/views/dashboard/DashboardView.vue'),
        meta: { title: 'menu.dashboard' },
      },
      {
        path: 'tasks',
        name: 'tasks',
        component: () => import('@/views/tasks/TaskListView.vue'),
        meta: { title: 'menu.tasks', permission: 'task:view' },
      },
      {
        path: 'tasks/new',
        name: 'task-new',
        component: () => import('@/views/tasks/TaskFormView.vue'),
        meta: { title: 'task.createTitle', permission: 'task:create' },
      },
      {
        path: 'tasks/:id(\\d+)',
        name: 'task-detail',
        component: () => import('@/views/tasks/TaskDetailView.vue'),
        meta: { title: 'task.detailTitle', permission: 'task:view' },
      },
      {
        path: 'tasks/:id(\\d+)/edit',
        name: 'task-edit',
        component: () => import('@/views/tasks/TaskFormView.vue'),
        meta: { title: 'task.editTitle', permission: 'task:update' },
      },
      {
        path: 'records',
        name: 'records',
        component: () => import('@/views/records/RecordListView.vue'),
        meta: { title: 'menu.records', permission: 'record:view' },
      },
      {
        path: 'alerts',
        name: 'alerts',
        component: () => import('@/views/alerts/AlertsView.vue'),
        meta: { title: 'menu.alerts', permission: ['task:view', 'record:view'], permissionMode: 'any' },
      },
      {
        path: 'executors',
        name: 'executors',
        component: () => import('@/views/executors/ExecutorView.vue'),
        meta: { title: 'menu.executors', permission: 'executor:view' },
      },
      {
        path: 'departments',
        name: 'departments',
        component: () => import('@/views/departments/DepartmentView.vue'),
        meta: { title: 'menu.departments' },
      },
      {
        path: 'users',
        name: 'users',
        component: () => import('@/views/users/UserView.vue'),
        meta: { title: 'menu.users', permission: 'user:manage' },
      },
      {
        path: 'users/:id(\\d+)/tokens',
        name: 'user-tokens',
        component: () => import('@/views/tokens/ApiTokensView.vue'),
        meta: { title: 'token.userTitle', permission: 'user:manage' },
      },
      {
        path: 'tokens',
        name: 'api-tokens',
        component: () => import('@/views/tokens/ApiTokensView.vue'),
        meta: { title: 'token.title' },
      },
      {
        path: 'roles',
        name: 'roles',
        component: () => import('@/views/roles/RoleView.vue'),
        meta: { title: 'menu.roles', permission: 'role:manage' },
      },
      {
        path: 'nodes',
        name: 'nodes',
        component: () => import('@/views/nodes/NodeView.vue'),
        meta: { title: 'menu.nodes' },
      },
      {
        path: 'audit',
        name: 'audit',
        component: () => import('@/views/audit/AuditView.vue'),
        meta: { title: 'menu.audit', permission: 'system:manage' },
      },
      {
        path: 'forbidden',
        name: 'forbidden',
        component: () => import('@/views/error/ForbiddenView.vue'),
        meta: { title: 'error.forbiddenTitle' },
      },
    ],
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/views/error/NotFoundView.vue'),
    meta: { public: true, title: 'error.notFoundTitle' },
  },
]

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  // Later navigations start at the top; the first keeps where the browser is (a forced layout fewer while the
  // first page mounts: issue 20).
  scrollBehavior: (_to, from) => (from.matched.length ? { top: 0 } : false),
})

/** Where the login page sends the user afterwards: only paths inside the console. */
export function safeRedirect(value: unknown): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/login')
    ? value
    : '/dashboard'
}

export function loginLocation(to: RouteLocationNormalized | null, expired = false) {
  const redirect = to && to.name !== 'login' && to.fullPath !== '/' ? to.fullPath : undefined
  return { name: 'login', query: { ...(redirect ? { redirect } : {}), ...(expired ? { expired: '1' } : {}) } }
}

/**
 * A new build replaced the hashed chunks while this tab still runs the old one: a lazy page fails to
 * load. Load the target page from the server instead (once per path, so a real outage cannot loop).
 */
export function isChunkLoadError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /dynamically imported module|Importing a module script failed|Unable to preload CSS/i.test(message)
}

router.onError((error, to) => {
  if (!isChunkLoadError(error) || typeof window === 'undefined') return
  const key = `djs.reloaded:${to.fullPath}`
  if (sessionStorage.getItem(key)) return
  sessionStorage.setItem(key, '1')
  window.location.assign(router.resolve(to).href)
})

/** Starts loading the lazily imported components of `to`; the router later gets the same module promises. */
function warmComponents(to: RouteLocationNormalized): void {
  for (const record of to.matched) {
    for (const component of Object.values(record.components ?? {})) {
      if (typeof component === 'function') void (component as () => Promise<unknown>)().catch(() => undefined)
    }
  }
}

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  if (to.meta.public) {
    if (to.name === 'login' && auth.loggedIn) return safeRedirect(to.query.redirect)
    return true
  }
  if (!auth.hasToken) return loginLocation(to)
  if (!auth.user) {
    // The page's code starts loading while the user is asked for (the router would load it only after this
    // guard): the first page of a cold load waits for one of the two, not for both in a row (issue 20).
    warmComponents(to)
    try {
      await auth.loadUser()
    } catch {
      auth.reset()
      return loginLocation(to)
    }
  }
  if (!hasPermission(auth.permissions, to.meta.permission, to.meta.permissionMode)) {
    return { name: 'forbidden', query: { from: to.fullPath } }
  }
  return true
})
