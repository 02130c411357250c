//! Dense arenas of IR entities and the typed handles that index them (`p7`, `e12`, `t3`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// An entity kind stored in an [`Arena`]; its prefix is how a handle prints (`p` + index).
pub trait Entity {
    const PREFIX: char;
}

/// A typed index into an [`Arena<T>`]. Prints as the text form spells it, e.g. `p7`.
pub struct Handle<T> {
    index: u32,
    marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// A handle from a raw index; only meaningful for the arena it was made for.
    ///
    /// # Panics
    /// If `index` does not fit the 32 bits a handle holds: an arena that large cannot be
    /// validated (`MAX_ELEMENTS`), and truncating would alias another entity. Parsers of untrusted
    /// text use [`Handle::try_new`].
    pub const fn new(index: usize) -> Self {
        match Self::try_new(index) {
            Some(h) => h,
            None => panic!("a handle index must fit in 32 bits"),
        }
    }
    /// A handle from a raw index, or `None` if it does not fit in 32 bits.
    pub const fn try_new(index: usize) -> Option<Self> {
        if index > u32::MAX as usize {
            return None;
        }
        Some(Handle {
            index: index as u32,
            marker: PhantomData,
        })
    }
    #[inline]
    pub const fn index(self) -> usize {
        self.index as usize
    }
}

// Manual impls: deriving would demand `T: Clone` etc., which entity types need not be.
impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}
impl<T> Eq for Handle<T> {}
impl<T> PartialOrd for Handle<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Handle<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index.cmp(&other.index)
    }
}
impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state)
    }
}
impl<T: Entity> fmt::Display for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", T::PREFIX, self.index)
    }
}
impl<T: Entity> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Entities of one kind, numbered densely from 0 in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub struct Arena<T> {
    items: Vec<T>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena { items: Vec::new() }
    }
}

impl<T> Arena<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, item: T) -> Handle<T> {
        self.items.push(item);
        Handle::new(self.items.len() - 1)
    }
    pub fn get(&self, h: Handle<T>) -> Option<&T> {
        self.items.get(h.index())
    }
    pub fn get_mut(&mut self, h: Handle<T>) -> Option<&mut T> {
        self.items.get_mut(h.index())
    }
    pub fn contains(&self, h: Handle<T>) -> bool {
        h.index() < self.items.len()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn handles(&self) -> impl DoubleEndedIterator<Item = Handle<T>> + use<T> {
        (0..self.items.len()).map(Handle::new)
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Handle<T>, &T)> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, t)| (Handle::new(i), t))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Handle<T>, &mut T)> {
        self.items
            .iter_mut()
            .enumerate()
            .map(|(i, t)| (Handle::new(i), t))
    }
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
    pub fn from_vec(items: Vec<T>) -> Self {
        Arena { items }
    }
}

/// Indexing trusts the handle: the validator has checked every handle before anyone indexes.
impl<T> std::ops::Index<Handle<T>> for Arena<T> {
    type Output = T;
    #[inline]
    fn index(&self, h: Handle<T>) -> &T {
        &self.items[h.index()]
    }
}
impl<T> std::ops::IndexMut<Handle<T>> for Arena<T> {
    #[inline]
    fn index_mut(&mut self, h: Handle<T>) -> &mut T {
        &mut self.items[h.index()]
    }
}

/// A side table: one value per entity of an arena, indexed by its handles (analysis results,
/// source lines, runtime state). Indexing is the plain `Vec` indexing it wraps.
pub struct HandleMap<T, V> {
    values: Vec<V>,
    marker: PhantomData<fn() -> T>,
}

impl<T, V> HandleMap<T, V> {
    pub fn new() -> Self {
        Self::from_vec(Vec::new())
    }
    /// Values for handles `0..values.len()`, in order.
    pub fn from_vec(values: Vec<V>) -> Self {
        HandleMap {
            values,
            marker: PhantomData,
        }
    }
    /// `len` copies of `value`, one per handle of an arena of that length.
    pub fn filled(len: usize, value: V) -> Self
    where
        V: Clone,
    {
        Self::from_vec(vec![value; len])
    }
    /// The value of each handle of `arena`, computed from the handle.
    pub fn from_fn<A>(arena: &Arena<A>, f: impl FnMut(Handle<T>) -> V) -> Self {
        Self::from_vec((0..arena.len()).map(Handle::new).map(f).collect())
    }
    /// Grows (with copies of `value`) or shrinks to `len` handles.
    pub fn resize(&mut self, len: usize, value: V)
    where
        V: Clone,
    {
        self.values.resize(len, value);
    }
    /// Appends the value of the next handle and returns that handle.
    pub fn push(&mut self, value: V) -> Handle<T> {
        self.values.push(value);
        Handle::new(self.values.len() - 1)
    }
    #[inline]
    pub fn get(&self, h: Handle<T>) -> Option<&V> {
        self.values.get(h.index())
    }
    #[inline]
    pub fn get_mut(&mut self, h: Handle<T>) -> Option<&mut V> {
        self.values.get_mut(h.index())
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Handle<T>, &V)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (Handle::new(i), v))
    }
    pub fn values(&self) -> std::slice::Iter<'_, V> {
        self.values.iter()
    }
}

// Manual impls: deriving would put the bounds on `T`, the entity, which need not have them.
impl<T, V> Default for HandleMap<T, V> {
    fn default() -> Self {
        Self::new()
    }
}
impl<T, V: Clone> Clone for HandleMap<T, V> {
    fn clone(&self) -> Self {
        Self::from_vec(self.values.clone())
    }
}
impl<T, V: PartialEq> PartialEq for HandleMap<T, V> {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}
impl<T: Entity, V: fmt::Debug> fmt::Debug for HandleMap<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
impl<T, V> FromIterator<V> for HandleMap<T, V> {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl<T, V> std::ops::Index<Handle<T>> for HandleMap<T, V> {
    type Output = V;
    #[inline]
    fn index(&self, h: Handle<T>) -> &V {
        &self.values[h.index()]
    }
}
impl<T, V> std::ops::IndexMut<Handle<T>> for HandleMap<T, V> {
    #[inline]
    fn index_mut(&mut self, h: Handle<T>) -> &mut V {
        &mut self.values[h.index()]
    }
}
