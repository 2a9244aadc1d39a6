//! `kernel::rbtree`: the node-based API over a `BTreeMap`.

use std::collections::BTreeMap;

use crate::alloc::{AllocError, Flags};

/// An ordered map.
pub struct RBTree<K, V>(BTreeMap<K, V>);

/// A preallocated entry.
pub struct RBTreeNode<K, V> {
    key: K,
    value: V,
}

/// An allocation for a node, without key and value.
pub struct RBTreeNodeReservation<K, V>(core::marker::PhantomData<(K, V)>);

impl<K, V> RBTreeNode<K, V> {
    /// Allocates a node.
    pub fn new(key: K, value: V, flags: Flags) -> Result<Self, AllocError> {
        crate::alloc::charge(flags)?;
        Ok(RBTreeNode { key, value })
    }

    /// Keeps the allocation, drops key and value.
    pub fn into_reservation(self) -> RBTreeNodeReservation<K, V> {
        RBTreeNodeReservation(core::marker::PhantomData)
    }
}

impl<K, V> RBTreeNodeReservation<K, V> {
    /// The node with a new key and value.
    pub fn into_node(self, key: K, value: V) -> RBTreeNode<K, V> {
        RBTreeNode { key, value }
    }
}

impl<K: Ord + Copy, V> Default for RBTree<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Copy, V> RBTree<K, V> {
    /// Empty.
    pub fn new() -> Self {
        RBTree(BTreeMap::new())
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.get(key)
    }

    /// The value of `key`.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.0.get_mut(key)
    }

    /// Inserts a node; the one it replaced.
    pub fn insert(&mut self, node: RBTreeNode<K, V>) -> Option<RBTreeNode<K, V>> {
        let key = node.key;
        self.0
            .insert(key, node.value)
            .map(|value| RBTreeNode { key, value })
    }

    /// Allocates and inserts.
    pub fn try_create_and_insert(
        &mut self,
        key: K,
        value: V,
        flags: Flags,
    ) -> Result<Option<RBTreeNode<K, V>>, AllocError> {
        Ok(self.insert(RBTreeNode::new(key, value, flags)?))
    }

    /// Removes `key`'s value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.0.remove(key)
    }

    /// Removes `key`'s node.
    pub fn remove_node(&mut self, key: &K) -> Option<RBTreeNode<K, V>> {
        self.0
            .remove(key)
            .map(|value| RBTreeNode { key: *key, value })
    }

    /// A cursor on the least key.
    pub fn cursor_front(&mut self) -> Option<Cursor<'_, K, V>> {
        let key = *self.0.keys().next()?;
        Some(Cursor { tree: self, key })
    }

    /// In key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter()
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.values()
    }

    /// Values in key order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.values_mut()
    }
}

/// A position in the tree.
pub struct Cursor<'a, K, V> {
    tree: &'a mut RBTree<K, V>,
    key: K,
}

impl<'a, K: Ord + Copy, V> Cursor<'a, K, V> {
    /// The entry under the cursor.
    pub fn current(&self) -> (&K, &V) {
        self.tree
            .0
            .get_key_value(&self.key)
            .expect("a cursor's key is in the tree")
    }

    /// Removes the entry; a cursor on the next one, and the node.
    pub fn remove_current(self) -> (Option<Cursor<'a, K, V>>, RBTreeNode<K, V>) {
        let key = self.key;
        let value = self
            .tree
            .0
            .remove(&key)
            .expect("a cursor's key is in the tree");
        let next = self.tree.0.range(key..).next().map(|(k, _)| *k);
        let tree = self.tree;
        (
            next.map(|key| Cursor { tree, key }),
            RBTreeNode { key, value },
        )
    }
}
