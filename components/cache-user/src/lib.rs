//! Uses the cache: `?op=set&key=k&value=v[&ttl=ms]`, `?op=get&key=k` (404 when absent),
//! `?op=delete&key=k`. A denied call becomes a 403 run error.

use karman_sdk::{RunErr, Runnable, cache, req};

struct CacheUser;

impl Runnable for CacheUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let key = req::query_param("key").ok_or_else(|| RunErr::new(400, "missing ?key="))?;
        match req::query_param("op").as_deref() {
            Some("set") => {
                let value = req::query_param("value").unwrap_or_default();
                let ttl = req::query_param("ttl").and_then(|t| t.parse().ok());
                cache::set(&key, value.as_bytes(), ttl)?;
                Ok(b"stored".to_vec())
            }
            Some("get") => match cache::get(&key)? {
                Some(value) => Ok(value),
                None => Err(RunErr::new(404, format!("no value for `{key}`"))),
            },
            Some("delete") => {
                cache::delete(&key)?;
                Ok(b"deleted".to_vec())
            }
            _ => Err(RunErr::new(400, "?op= must be set, get or delete")),
        }
    }
}

karman_sdk::export!(CacheUser);
