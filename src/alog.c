// SPDX-License-Identifier: GPL-2.0
/*
 * The access log stream (`access_log mmap`): a byte ring of whole lines that user space reads
 * from /proc/tempesta/access_log, like /proc/kmsg: each byte is read once, a read blocks until
 * there is something (or returns -EAGAIN with O_NONBLOCK), poll() works. Tempesta FW maps
 * per-CPU rings into its tfw_logger daemon; a stream needs no daemon and `cat` reads it.
 *
 * Lines are never split or overwritten: a line that does not fit in the free space is dropped
 * and counted (perfstat "Access log lines dropped"), so a slow reader loses the newest lines,
 * not parts of old ones. Writers may run in any context (spin_lock_irqsave); readers copy out
 * under the lock into a bounce buffer, then to user space without it.
 */
#include <linux/proc_fs.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "glue.h"

static DEFINE_SPINLOCK(alog_lock);
static DECLARE_WAIT_QUEUE_HEAD(alog_wait);
/* The ring; positions grow forever, the index is pos % size. Under alog_lock. */
static char *alog_buf;
static size_t alog_size;
static u64 alog_head;	/* next byte written */
static u64 alog_tail;	/* next byte read */
static u64 alog_dropped;
static bool alog_closing;

#define ALOG_CHUNK PAGE_SIZE

/*
 * Makes the ring @size bytes (0: none). Process context, control mutex held. Unread lines are
 * kept when the size does not change and discarded when it does.
 */
int tfw_glue_alog_setup(size_t size)
{
	unsigned long flags;
	char *nbuf = NULL, *old;

	if (size == READ_ONCE(alog_size))
		return 0;
	if (size) {
		nbuf = vzalloc(size);
		if (!nbuf)
			return -ENOMEM;
	}
	spin_lock_irqsave(&alog_lock, flags);
	old = alog_buf;
	alog_buf = nbuf;
	WRITE_ONCE(alog_size, size);
	alog_head = alog_tail = 0;
	spin_unlock_irqrestore(&alog_lock, flags);
	vfree(old);
	return 0;
}

/* Appends @line and a newline, or drops the line if there is no room. */
void tfw_glue_alog_write(const char *line, size_t len)
{
	unsigned long flags;
	size_t i, n, first;

	spin_lock_irqsave(&alog_lock, flags);
	if (!alog_buf) {
		spin_unlock_irqrestore(&alog_lock, flags);
		return;
	}
	n = len + 1;
	if (n > alog_size - (size_t)(alog_head - alog_tail)) {
		alog_dropped++;
		spin_unlock_irqrestore(&alog_lock, flags);
		return;
	}
	i = alog_head % alog_size;
	first = min(len, alog_size - i);
	memcpy(alog_buf + i, line, first);
	memcpy(alog_buf, line + first, len - first);
	alog_buf[(alog_head + len) % alog_size] = '\n';
	alog_head += n;
	spin_unlock_irqrestore(&alog_lock, flags);
	wake_up_interruptible(&alog_wait);
}

u64 tfw_glue_alog_dropped(void)
{
	unsigned long flags;
	u64 d;

	spin_lock_irqsave(&alog_lock, flags);
	d = alog_dropped;
	spin_unlock_irqrestore(&alog_lock, flags);
	return d;
}

static bool alog_readable(void)
{
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&alog_lock, flags);
	r = alog_head != alog_tail || alog_closing;
	spin_unlock_irqrestore(&alog_lock, flags);
	return r;
}

static ssize_t alog_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	unsigned long flags;
	size_t n = 0, i, first;
	char *bounce;
	int r;

	if (!count)
		return 0;
	bounce = kmalloc(ALOG_CHUNK, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	for (;;) {
		spin_lock_irqsave(&alog_lock, flags);
		if (alog_closing) {
			spin_unlock_irqrestore(&alog_lock, flags);
			break;
		}
		if (alog_head != alog_tail) {
			n = min3(count, (size_t)ALOG_CHUNK, (size_t)(alog_head - alog_tail));
			i = alog_tail % alog_size;
			first = min(n, alog_size - i);
			memcpy(bounce, alog_buf + i, first);
			memcpy(bounce + first, alog_buf, n - first);
			alog_tail += n;
			spin_unlock_irqrestore(&alog_lock, flags);
			break;
		}
		spin_unlock_irqrestore(&alog_lock, flags);
		if (file->f_flags & O_NONBLOCK) {
			kfree(bounce);
			return -EAGAIN;
		}
		r = wait_event_interruptible(alog_wait, alog_readable());
		if (r) {
			kfree(bounce);
			return r;
		}
	}
	if (n && copy_to_user(ubuf, bounce, n)) {
		/* The bytes are consumed; a bad user buffer loses them, as with /proc/kmsg. */
		kfree(bounce);
		return -EFAULT;
	}
	kfree(bounce);
	return n;
}

static __poll_t alog_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &alog_wait, wait);
	return alog_readable() ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct proc_ops alog_ops = {
	.proc_open = nonseekable_open,
	.proc_read = alog_read,
	.proc_poll = alog_poll,
};

int tfw_glue_alog_init(struct proc_dir_entry *dir)
{
	return proc_create("access_log", 0400, dir, &alog_ops) ? 0 : -ENOMEM;
}

/* Makes blocked and future readers return (before the proc entry is removed: removal waits
 * for running reads). */
void tfw_glue_alog_close(void)
{
	unsigned long flags;

	spin_lock_irqsave(&alog_lock, flags);
	alog_closing = true;
	spin_unlock_irqrestore(&alog_lock, flags);
	wake_up_interruptible_all(&alog_wait);
}

/* Frees the ring; after the proc entry is gone. */
void tfw_glue_alog_exit(void)
{
	tfw_glue_alog_setup(0);
}
