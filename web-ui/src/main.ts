import 'element-plus/theme-chalk/dark/css-vars.css'
import './styles/main.css'

import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { http } from './api/http'
import { i18n } from './i18n'
import { loginLocation, router } from './router'
import { useAppStore } from './stores/app'
import { useAuthStore } from './stores/auth'
import { vPermission } from './utils/permission'

async function bootstrap(): Promise<void> {
  const app = createApp(App)
  const pinia = createPinia()
  app.use(pinia)
  app.use(i18n)
  app.directive('permission', vPermission)

  const auth = useAuthStore()
  http.setSessionHandlers({
    onRefreshed: (data) => auth.refreshed(data),
    // The refresh failed (revoked, expired, reused): back to the login page, then to where the user was.
    onSessionExpired: () => {
      auth.reset()
      const current = router.currentRoute.value
      if (current.name !== 'login') void router.replace(loginLocation(current, true))
    },
  })
  // Another tab signed out (or in as someone else): follow it.
  window.addEventListener('storage', (event) => {
    if (event.key === null || event.key === 'djs.tokens') {
      if (!http.store.access && auth.hasToken) {
        auth.reset()
        void router.replace(loginLocation(router.currentRoute.value))
      }
    }
  })

  // The first page's user is asked for while the language catalog loads (not after it): a signed-in cold load
  // waits for one round trip fewer. Public pages (sign-in) need no user.
  if (!router.resolve(router.options.history.location).meta.public) auth.prefetchUser()
  await useAppStore(pinia).init()
  app.use(router)
  await router.isReady()
  app.mount('#app')
}

void bootstrap()
