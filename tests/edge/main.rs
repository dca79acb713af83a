//! The edge of the gateway as API Gateway's users meet it, on real processes
//! driven by the real curl: the tutorial's resource policy and the policy
//! language around it (`policy`), API keys, usage plans and quotas kept in the
//! service's usage table across restarts and replicas (`keys`), throttling and
//! its accuracy (`throttle`), CORS (`cors`), the non-proxy integration's
//! answers (`non_proxy`), and the tutorial's logging set-up (`logs`).

mod cors;
mod keys;
mod logs;
mod non_proxy;
mod policy;
mod support;
mod throttle;
